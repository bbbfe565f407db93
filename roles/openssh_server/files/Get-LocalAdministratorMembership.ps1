# Report whether a local account exists and is a direct member of the
# built-in Administrators group. The group is found by SID because its name
# is localised ("Administratoren", "Administrateurs").
[CmdletBinding()]
param (
    [Parameter(Mandatory = $true)]
    [string]
    $Name,

    [Parameter(Mandatory = $true)]
    [string]
    $AdministratorsSid
)

$ErrorActionPreference = 'Stop'
$Ansible.Changed = $false

$account = Get-LocalUser -Name $Name -ErrorAction SilentlyContinue
if ($null -eq $account) {
    [PSCustomObject]@{ exists = $false; administrator = $false }
    return
}

# Get-LocalGroupMember fails on groups that contain orphaned SIDs, so the
# members are read through ADSI and compared by SID.
$group = Get-LocalGroup -SID $AdministratorsSid
$adsiGroup = [ADSI]"WinNT://$env:COMPUTERNAME/$($group.Name),group"
$memberSids = foreach ($member in $adsiGroup.Invoke('Members')) {
    $sidBytes = $member.GetType().InvokeMember('objectSid', 'GetProperty', $null, $member, $null)
    (New-Object -TypeName System.Security.Principal.SecurityIdentifier -ArgumentList $sidBytes, 0).Value
}

[PSCustomObject]@{
    exists = $true
    administrator = ($memberSids -contains $account.SID.Value)
}
