# Give a key file exactly the ACL that sshd for Windows requires: the owner,
# full control for SYSTEM and Administrators, optionally read for one
# account, and no inherited entries. Every principal is given by SID so the
# script works on localised Windows. Reports changed only when the ACL differs.
[CmdletBinding(SupportsShouldProcess = $true)]
param (
    [Parameter(Mandatory = $true)]
    [string]
    $Path,

    [Parameter(Mandatory = $true)]
    [string]
    $OwnerSid,

    [Parameter(Mandatory = $true)]
    [string[]]
    $FullControlSid,

    [string]
    $ReadSid
)

$ErrorActionPreference = 'Stop'

function ConvertTo-AclSummary {
    param ([System.Security.AccessControl.FileSystemSecurity] $Acl)

    $sidType = [System.Security.Principal.SecurityIdentifier]
    $rules = foreach ($rule in $Acl.GetAccessRules($true, $true, $sidType)) {
        '{0}|{1}|{2}|{3}' -f $rule.IdentityReference.Value, [int]$rule.FileSystemRights, $rule.AccessControlType, $rule.IsInherited
    }
    [PSCustomObject]@{
        owner = $Acl.GetOwner($sidType).Value
        protected = $Acl.AreAccessRulesProtected
        rules = @($rules | Sort-Object)
    }
}

$desired = New-Object -TypeName System.Security.AccessControl.FileSecurity
$desired.SetOwner((New-Object -TypeName System.Security.Principal.SecurityIdentifier -ArgumentList $OwnerSid))
# Protect the ACL from inheritance and drop the inherited entries.
$desired.SetAccessRuleProtection($true, $false)
foreach ($sid in $FullControlSid) {
    $identity = New-Object -TypeName System.Security.Principal.SecurityIdentifier -ArgumentList $sid
    $rule = New-Object -TypeName System.Security.AccessControl.FileSystemAccessRule -ArgumentList $identity, 'FullControl', 'Allow'
    $desired.AddAccessRule($rule)
}
if ($ReadSid) {
    $identity = New-Object -TypeName System.Security.Principal.SecurityIdentifier -ArgumentList $ReadSid
    $rule = New-Object -TypeName System.Security.AccessControl.FileSystemAccessRule -ArgumentList $identity, 'Read', 'Allow'
    $desired.AddAccessRule($rule)
}

$want = ConvertTo-AclSummary -Acl $desired
$have = ConvertTo-AclSummary -Acl (Get-Acl -LiteralPath $Path)
$same = ($want.owner -eq $have.owner) -and ($want.protected -eq $have.protected) -and
    (($want.rules -join ';') -eq ($have.rules -join ';'))

$Ansible.Changed = -not $same
if (-not $same -and $PSCmdlet.ShouldProcess($Path, 'Set the key file ACL')) {
    Set-Acl -LiteralPath $Path -AclObject $desired
}

[PSCustomObject]@{
    before = $have
    after = $want
}
