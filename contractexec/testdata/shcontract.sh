#!/bin/sh
# A HotPocket contract in POSIX shell against the raw contract ABI: it parses the stdin JSON with
# sed, reads its inputs from the input memfd through /proc/self/fd, and writes length-prefixed
# frames to each user's fd. Each input is a command "cmd:arg", as in the nodejs and Go contracts.
set -u

args=$(cat)

field() { printf '%s' "$args" | sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p" | tr -d '"'; }

infd=$(field user_in_fd)
ctlfd=$(field control_fd)
nplfd=$(field npl_fd)
readonly_=$(field readonly)

# send FD MSG: one frame, a 4-byte big-endian length then the bytes.
send() {
	n=$(printf '%s' "$2" | wc -c)
	hdr=$(printf '\\%03o\\%03o\\%03o\\%03o' $((n / 16777216 % 256)) $((n / 65536 % 256)) $((n / 256 % 256)) $((n % 256)))
	{ printf "$hdr"; printf '%s' "$2"; } >&"$1"
}

# input OFFSET LENGTH: the input's bytes, read from the memfd.
input() {
	dd if=/proc/self/fd/"$infd" bs=1 skip="$1" count="$2" 2>/dev/null
}

handle() { # FD MSG
	fd=$1 msg=$2
	cmd=${msg%%:*} arg=${msg#*:}
	if [ "$readonly_" = true ]; then
		send "$fd" "ro1:$msg"
		send "$fd" "ro2:$msg"
		return
	fi
	case $cmd in
	echo) send "$fd" "echo:$arg" ;;
	ctx) send "$fd" "ctx:$(field contract_id):$(field public_key):$(field timestamp):$(field lcl_seq_no):$(field lcl_hash):$nusers" ;;
	write)
		printf '%s' "${arg#*:}" > "${arg%%:*}"
		send "$fd" "wrote:${arg%%:*}" ;;
	read) send "$fd" "read:$(cat "$arg")" ;;
	config)
		sed "s/\"version\": \"[^\"]*\"/\"version\": \"$arg\"/" ../patch.cfg > ../patch.cfg.tmp && mv ../patch.cfg.tmp ../patch.cfg
		send "$fd" "config:$arg" ;;
	peers)
		printf '%s' '{"type":"peer_changeset","add":["10.0.0.1:22860","10.0.0.3:22860"],"remove":["10.0.0.2:22860"]}' >&"$ctlfd"
		send "$fd" "peers:sent" ;;
	npl)
		printf '%s' "npl from $(field public_key)" >&"$nplfd"
		want=$(printf '%s' "$args" | grep -o '"active_on"' | wc -l)
		got=""
		i=0
		while [ "$i" -lt "$want" ]; do
			from=$(dd bs=131072 count=1 <&"$nplfd" 2>/dev/null)
			data=$(dd bs=131072 count=1 <&"$nplfd" 2>/dev/null)
			got="$got$from=$data;"
			i=$((i + 1))
		done
		send "$fd" "npl:$(printf '%s' "$got" | tr ';' '\n' | sort | tr '\n' ';')" ;;
	postexec)
		printf '#!/bin/sh\necho "$1" > post_exec.out\nexit %s\n' "$arg" > post_exec.sh
		chmod 755 post_exec.sh
		send "$fd" "postexec:written" ;;
	*) send "$fd" "unknown:$msg" ;;
	esac
}

# "users":{"<key>":[fd,[off,len],...],...}: one line per user, then one line per input.
users=$(printf '%s' "$args" | sed 's/.*"users":{\(.*\)},"unl".*/\1/' | sed 's/\],"/]|"/g' | tr '|' '\n')
nusers=$(printf '%s\n' "$users" | grep -c '^"')
printf '%s\n' "$users" | while IFS= read -r line; do
	[ -n "$line" ] || continue
	body=$(printf '%s' "$line" | sed 's/^"[^"]*":\[//; s/\]$//')
	fd=${body%%,*}
	printf '%s' "$body" | sed 's/^[0-9]*//' | tr -d '[' | tr ']' '\n' | while IFS=, read -r _ off len; do
		[ -n "${len:-}" ] || continue
		handle "$fd" "$(input "$off" "$len")"
	done
done
