#!/bin/sh
# Install the stand-in pipeline into a lab server image. Runs once, inside a
# container made from the lab base image; the result is committed as the
# server image. Nothing here configures what the whispermon roles manage.
set -eu
assets=/tmp/whispermon-assets
export DEBIAN_FRONTEND=noninteractive

# Keep package scripts from starting services while the image is built.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
chmod 0755 /usr/sbin/policy-rc.d

apt-get update
apt-get install -y --no-install-recommends \
  postgresql postgresql-contrib redis-server python3-venv

useradd --system --home-dir /opt/pipeline --shell /usr/sbin/nologin pipeline
python3 -m venv /opt/pipeline/venv
/opt/pipeline/venv/bin/pip install --no-cache-dir --disable-pip-version-check \
  -r "$assets/requirements.txt"
install -m 0644 "$assets/app.py" "$assets/tasks.py" "$assets/traffic.py" /opt/pipeline/
install -m 0755 "$assets/lab-configure" /usr/local/sbin/lab-configure
install -d -m 0750 -o root -g pipeline /etc/pipeline
install -m 0640 -o root -g pipeline /dev/null /etc/pipeline/env
for unit in "$assets"/units/*; do
  install -m 0644 "$unit" /etc/systemd/system/
done
systemctl enable pipeline-api.service pipeline-worker.service pipeline-flower.service \
  pipeline-traffic.timer

# PostgreSQL and Redis listen on loopback only, as on the real servers.
conf=$(ls -d /etc/postgresql/*/main)
cat > "$conf/conf.d/whispermon-lab.conf" <<'CONF'
listen_addresses = '127.0.0.1'
shared_preload_libraries = 'pg_stat_statements'
CONF
sed -i 's/^bind .*/bind 127.0.0.1/' /etc/redis/redis.conf
echo 'include /etc/redis/whispermon-lab.conf' >> /etc/redis/redis.conf
install -m 0640 -o redis -g redis /dev/null /etc/redis/whispermon-lab.conf
# Debian's unit sets PrivateUsers=true, and a container without CAP_SYS_ADMIN
# cannot create the user namespace for it (redis fails with status 217/USER).
mkdir -p /etc/systemd/system/redis-server.service.d
printf '[Service]\nPrivateUsers=false\n' \
  > /etc/systemd/system/redis-server.service.d/whispermon-lab.conf

rm -f /usr/sbin/policy-rc.d
apt-get clean
rm -rf /var/lib/apt/lists/* /root/.cache
touch -d @0 /var/lib/apt/lists
