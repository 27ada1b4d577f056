#!/bin/sh
# Throwaway PostgreSQL cluster for the tests, owned by the unprivileged
# `postgres` user, listening on 127.0.0.1 at a free port and a socket in DIR.
#   pg-cluster.sh start DIR   creates and starts it; writes DIR/url
#   pg-cluster.sh stop DIR    stops it and removes DIR
#   pg-cluster.sh halt DIR    stops the server (fast shutdown), keeps DIR
#   pg-cluster.sh resume DIR  starts a halted server again, same port
# The URL has no password: the cluster trusts local connections and is
# reachable only from this machine, and only while the tests run.
set -eu
cmd=${1:?start or stop}
dir=${2:?directory}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$bin" ] || { echo "pg-cluster: PostgreSQL server not installed" >&2; exit 1; }
as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}
pg_start() {
	as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
		-o "-c listen_addresses=127.0.0.1 -c port=$1 -c unix_socket_directories=$dir -c fsync=on -c max_connections=400 -c shared_buffers=64MB" \
		start >/dev/null
}
case $cmd in
start)
	# A cluster left by an interrupted run: stop and remove it first.
	if [ -d "$dir/data" ]; then
		as_pg "$bin/pg_ctl" -D "$dir/data" -m immediate -w -t 60 stop >/dev/null 2>&1 || true
		rm -rf "$dir"
	fi
	mkdir -p "$dir"
	[ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
	# A free port: ask the kernel for one.
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	as_pg "$bin/initdb" -D "$dir/data" -U sipward -A trust -E UTF8 \
		--no-locale >"$dir/initdb.log" 2>&1
	pg_start "$port"
	echo "postgresql://sipward@127.0.0.1:$port/postgres" >"$dir/url"
	cat "$dir/url"
	;;
halt)
	as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null
	;;
resume)
	port=$(sed -n 's|^postgresql://[^@]*@127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$dir/url")
	[ -n "$port" ] || { echo "pg-cluster: no port in $dir/url" >&2; exit 1; }
	pg_start "$port"
	;;
stop)
	if [ -d "$dir/data" ]; then
		as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null 2>&1 || true
	fi
	rm -rf "$dir"
	;;
*)
	echo "usage: $0 start|stop|halt|resume DIR" >&2
	exit 2
	;;
esac
