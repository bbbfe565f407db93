#!/bin/sh
# Make a Debian root file system fit to run as many containers at once.
# Argument: the root of the file system (/ inside a Dockerfile build).
set -eu
root="$1"

# Every container gets its own machine-id and SSH host keys at first boot;
# otherwise all lab hosts would share the ones made when the image was built.
: > "$root/etc/machine-id"
rm -f "$root"/etc/ssh/ssh_host_*
cat > "$root/etc/systemd/system/whispermon-lab-hostkeys.service" <<'UNIT'
[Unit]
Description=Generate this container's SSH host keys
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
WantedBy=multi-user.target
UNIT
mkdir -p "$root/etc/systemd/system/multi-user.target.wants"
ln -sf /etc/systemd/system/whispermon-lab-hostkeys.service \
  "$root/etc/systemd/system/multi-user.target.wants/whispermon-lab-hostkeys.service"

# Units that make no sense in a container and only slow the boot.
for unit in systemd-resolved.service getty.target console-getty.service \
            apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer; do
  ln -sf /dev/null "$root/etc/systemd/system/$unit"
done

# Docker writes /etc/resolv.conf and /etc/hostname when a container starts.
: > "$root/etc/resolv.conf"

# No stale package lists: the roles' apt tasks must refresh them. An mtime of
# 1970 makes apt's cache_valid_time treat the lists as old.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
touch -d @0 "$root/var/lib/apt/lists"
