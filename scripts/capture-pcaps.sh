#!/usr/bin/env bash
# capture-pcaps.sh — record real libsrt traffic into pcaps/ for the tests.
#
# Two network namespaces joined by one veth pair:
#   srtcap-a  198.18.10.1/24  2001:db8:10::1/64   (caller side)
#   srtcap-b  198.18.10.2/24  2001:db8:10::2/64   (listener side, capture here)
# Peers are srt-live-transmit (srt-tools, libsrt 1.5.1) and ffmpeg's srt
# protocol; dumpcap records `udp` on the listener's veth end into classic pcap
# (Ethernet link type). Every pcap is first written to a temporary folder and
# moved into pcaps/ only when its scenario completed, so a failed run leaves the
# old pcaps untouched. Namespaces, veths and every process started here are
# removed on exit, on failure and on interruption too.
#
# Usage (as root):  scripts/capture-pcaps.sh [scenario ...]
#   scenarios: plain streamid-publish streamid-request streamid-plain
#              streamid-long encrypted rejected rejected-unsecure ipv6
#   (default: all of them; manifest.json is rewritten only for a full run)
set -euo pipefail

NS_A=srtcap-a
NS_B=srtcap-b
VETH_A=srtcap-va
VETH_B=srtcap-vb
IP_A=198.18.10.1
IP_B=198.18.10.2
IP6_A=2001:db8:10::1
IP6_B=2001:db8:10::2
PORT=10080
PASS=srtfwd-test-secret
WRONG_PASS=srtfwd-wrong-secret

SID_PUBLISH='#!::r=live/livestream,m=publish'
SID_REQUEST='#!::h=example.com,r=live/cam1,m=request'
SID_PLAIN='live/livestream?vhost=example.com'
# 203 characters: not a multiple of 4 (zero padding), 51 SID words. No '&' and
# no '+': ffmpeg cannot carry those in a stream ID (see scenario_ffmpeg).
SID_LONG='#!::h=example.com,r=live/long-stream-name-0123456789abcdefghijklmnopqrstuvwxyz-0123456789abcdefghijklmnopqrstuvwxyz,m=publish,u=srtfwd-user,s=0123456789abcdef0123456789abcdef0123456789abcdef0123,t=stream'

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$ROOT/pcaps
PY=/usr/bin/python3

log() { printf '[capture-pcaps] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (needs network namespaces)"
for t in ip ethtool dumpcap srt-live-transmit ffmpeg "$PY"; do
    command -v "$t" >/dev/null || die "missing tool: $t"
done

# One run at a time: a second run would tear down the first one's namespaces.
# fd 9 holds the lock; processes started here get `9>&-` so that a run killed
# with SIGKILL does not leave its lock held by its orphans.
exec 9>/run/lock/srtfwd-capture-pcaps.lock
flock -n 9 || die "another capture-pcaps.sh run is active"

# --- clean-up -----------------------------------------------------------------
# Only processes inside our own namespaces are ended (all started by this
# script), by pid; then the namespaces go (and with them the veth pair).
kill_ns_procs() {
    local ns=$1 sig pids
    for sig in INT TERM KILL; do
        pids=$(ip netns pids "$ns" 2>/dev/null || true)
        [ -n "$pids" ] || return 0
        # shellcheck disable=SC2086
        kill -s "$sig" $pids 2>/dev/null || true
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            [ -n "$(ip netns pids "$ns" 2>/dev/null || true)" ] || return 0
            sleep 0.1
        done
    done
}

teardown() {
    local ns
    for ns in "$NS_A" "$NS_B"; do
        if [ -e "/run/netns/$ns" ]; then
            kill_ns_procs "$ns"
            ip netns del "$ns" 2>/dev/null || true
        fi
    done
    # a veth still in the root namespace (creation interrupted before the move)
    ip link del "$VETH_A" 2>/dev/null || true
    ip link del "$VETH_B" 2>/dev/null || true
}

TMP=
on_exit() {
    local rc=$?
    set +e
    trap - EXIT INT TERM HUP
    teardown
    [ -n "$TMP" ] && [ -z "${KEEP_TMP:-}" ] && rm -rf "$TMP"
    rm -f "$OUT"/.*.pcap.part
    if [ "$rc" -ne 0 ]; then
        if [ -n "$TMP" ]; then
            for f in "$TMP"/*.log; do
                [ -s "$f" ] && { log "--- ${f##*/}"; tail -n 20 "$f" >&2; }
            done
        fi
        log "failed (exit $rc); namespaces and processes removed"
    fi
    exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# --- test hosts -----------------------------------------------------------------
setup() {
    teardown   # leftovers of an earlier run
    ip netns add "$NS_A"
    ip netns add "$NS_B"
    ip link add "$VETH_A" type veth peer name "$VETH_B"
    ip link set "$VETH_A" netns "$NS_A"
    ip link set "$VETH_B" netns "$NS_B"
    local ns ifc ip4 ip6
    for ns in "$NS_A" "$NS_B"; do
        if [ "$ns" = "$NS_A" ]; then ifc=$VETH_A ip4=$IP_A ip6=$IP6_A
        else ifc=$VETH_B ip4=$IP_B ip6=$IP6_B; fi
        ip -n "$ns" link set lo up
        ip netns exec "$ns" sysctl -qw "net.ipv4.conf.$ifc.forwarding=0"
        ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$ifc.forwarding=0"
        ip netns exec "$ns" ethtool -K "$ifc" tx off rx off >/dev/null
        ip -n "$ns" addr add "$ip4/24" dev "$ifc"
        ip -n "$ns" -6 addr add "$ip6/64" dev "$ifc" nodad
        ip -n "$ns" link set "$ifc" up
    done
    # resolve neighbours now so the first SRT packet is not held by ARP/ND
    ip netns exec "$NS_A" ping -c1 -W2 "$IP_B" >/dev/null
    ip netns exec "$NS_A" ping -6 -c1 -W2 "$IP6_B" >/dev/null || true
}

# --- helpers ------------------------------------------------------------------------
# Paced payload source: COUNT chunks of SIZE bytes (MPEG-TS-like: 0x47 sync byte,
# then a counter pattern) every INTERVAL seconds. srt-live-transmit drops what it
# reads before it is connected, so the source keeps going for a while.
write_generator() {
    cat >"$TMP/gen.py" <<'EOF'
import os, sys, time
size, interval, count = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
out = sys.stdout.buffer
t = time.monotonic()
try:
    for i in range(count):
        chunk = bytes([0x47]) + bytes(((i + j) & 0xFF) for j in range(size - 1))
        out.write(chunk)
        out.flush()
        t += interval
        d = t - time.monotonic()
        if d > 0:
            time.sleep(d)
except BrokenPipeError:
    os._exit(0)
EOF
}
gen() { echo "$PY $TMP/gen.py $1 $2 $3"; }

SLT="srt-live-transmit -q"     # quiet: no banner; errors still go to stderr

CAP_PID=
start_capture() {   # NAME
    local name=$1
    rm -f "$TMP/$name.pcap"
    ip netns exec "$NS_B" dumpcap -q -i "$VETH_B" -f udp -P \
        -a duration:30 -a filesize:400 -w "$TMP/$name.pcap" \
        2>"$TMP/$name.dumpcap.log" 9>&- &
    CAP_PID=$!
    for _ in $(seq 50); do
        grep -q 'Capturing on' "$TMP/$name.dumpcap.log" 2>/dev/null && { sleep 0.2; return 0; }
        kill -0 "$CAP_PID" 2>/dev/null || break
        sleep 0.1
    done
    cat "$TMP/$name.dumpcap.log" >&2
    die "dumpcap did not start for $name"
}

stop_capture() {    # NAME
    local name=$1
    sleep 0.5                      # let the last packets (SHUTDOWN, late ACKs) in
    kill -INT "$CAP_PID" 2>/dev/null || true
    wait "$CAP_PID" 2>/dev/null || true
    CAP_PID=
    [ -s "$TMP/$name.pcap" ] || die "$name: no capture written"
}

# run in a namespace in the background; echo nothing, set BG_PID
BG_PID=
bg_in() {   # NS LOGNAME COMMAND...
    local ns=$1 logf=$2; shift 2
    ip netns exec "$ns" bash -c "$*" >/dev/null 2>>"$TMP/$logf.log" 9>&- &
    BG_PID=$!
}
run_in() {  # NS LOGNAME COMMAND...   (foreground; 124 = ended by its timeout)
    local ns=$1 logf=$2 rc=0; shift 2
    ip netns exec "$ns" bash -c "$*" >/dev/null 2>>"$TMP/$logf.log" 9>&- || rc=$?
    case $rc in
        0|124) ;;
        *) log "$logf: exit status $rc: $(tail -n 3 "$TMP/$logf.log" | tr '\n' ' ')" ;;
    esac
}

end_bg() {  # PID: end a background job (INT first, then TERM) and reap it
    local pid=$1
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    # the job is `ip netns exec bash -c ...` → bash; signal its children too
    pkill_children "$pid" INT
    kill -INT "$pid" 2>/dev/null || true
    for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
        pkill_children "$pid" TERM; kill -TERM "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}
pkill_children() {  # PID SIG — children of a pid we started, by pid
    local c
    for c in $(cat "/proc/$1/task/$1/children" 2>/dev/null); do
        kill -s "$2" "$c" 2>/dev/null || true
    done
}

# Check a capture with tshark before it replaces the old one:
#   handshakes INDUCTION and CONCLUSION in both directions (or, when REJECT is
#   given, the listener's rejection with handshake type REJECT), the stream ID
#   extension carrying exactly SID when SID is given, data when MINDATA > 0.
verify() {  # NAME SID REJECT MINDATA [KM]
    local name=$1 sid=$2 reject=$3 mindata=$4 km=${5:-} f=$TMP/$1.pcap
    command -v tshark >/dev/null || { log "tshark missing: $name not verified"; return 0; }
    local rows
    rows=$(tshark -r "$f" -d "udp.port==$PORT,srt" -Y srt -T fields \
        -E separator=/t -E occurrence=f \
        -e udp.dstport -e srt.iscontrol -e srt.type -e srt.hs.reqtype 2>/dev/null)
    local to from ndata
    to=$(awk -F'\t' -v p="$PORT" '$1==p && $2==1 && $3=="0x0000"{print $4}' <<<"$rows" | sort -u | tr '\n' ' ')
    from=$(awk -F'\t' -v p="$PORT" '$1!=p && $2==1 && $3=="0x0000"{print $4}' <<<"$rows" | sort -u | tr '\n' ' ')
    ndata=$(awk -F'\t' '$2==0' <<<"$rows" | wc -l)
    [[ " $to" == *" 1 "* && " $from" == *" 1 "* ]] || die "$name: INDUCTION missing (to listener: $to; from: $from)"
    [[ " $to" == *" -1 "* ]] || die "$name: caller CONCLUSION missing"
    if [ -n "$reject" ]; then
        [[ " $from" == *" $reject "* ]] || die "$name: rejection $reject missing (from listener: $from)"
    else
        [[ " $from" == *" -1 "* ]] || die "$name: listener CONCLUSION missing"
    fi
    [ "$ndata" -ge "$mindata" ] || die "$name: $ndata data packets, want >= $mindata"
    if [ -n "$sid" ]; then
        local got
        got=$(tshark -r "$f" -d "udp.port==$PORT,srt" -Y srt.hs.sid -T fields -e srt.hs.sid 2>/dev/null | sort -u)
        [ "$got" = "$sid" ] || die "$name: stream ID on the wire is '$got', want '$sid'"
    fi
    if [ -n "$km" ]; then
        local blocks
        blocks=$(tshark -r "$f" -d "udp.port==$PORT,srt" -Y 'srt.type==0' -T fields -E occurrence=a -e srt.hs.blocktype 2>/dev/null | tr '\n' ',')
        [[ $blocks == *0x0003* && $blocks == *0x0004* ]] || die "$name: KMREQ/KMRSP missing ($blocks)"
    fi
    local size
    size=$(stat -c %s "$f")
    [ "$size" -lt 204800 ] || die "$name: capture is $size bytes (limit 200 KB)"
}

finish() {  # NAME — move the capture into pcaps/
    local name=$1
    # copy next to the target, then rename: pcaps/ never holds a partial file
    cp "$TMP/$name.pcap" "$OUT/.$name.pcap.part"
    chmod 644 "$OUT/.$name.pcap.part"
    mv -f "$OUT/.$name.pcap.part" "$OUT/$name.pcap"
    log "$name.pcap: $(stat -c %s "$OUT/$name.pcap") bytes"
}

listener_uri() { echo "srt://:$PORT?mode=listener${1:+&$1}"; }
caller_uri() { echo "srt://$IP_B:$PORT?mode=caller${1:+&$1}"; }
q() { printf '%q' "$1"; }

# caller publishes to a listener that sinks; caller ends cleanly at end of input
scenario_publish() {  # NAME CALLER_OPTS LISTENER_OPTS SID [KM]
    local name=$1 copts=$2 lopts=$3 sid=$4 km=${5:-} lpid
    start_capture "$name"
    bg_in "$NS_B" "$name-listener" "$SLT -a:no $(q "$(listener_uri "$lopts")") file://con"
    lpid=$BG_PID
    sleep 0.3
    # 188-byte chunks every 25 ms. srt-live-transmit does not end at the end of
    # its input, so SIGINT ends it after ~1.8 s: it closes the socket cleanly
    # (SHUTDOWN) and the source gets EPIPE. A few dozen data packets.
    run_in "$NS_A" "$name-caller" \
        "$(gen 188 0.025 200) | timeout -s INT 1.8 $SLT -a:no -chunk:188 file://con $(q "$(caller_uri "$copts")")"
    sleep 0.3
    end_bg "$lpid"
    stop_capture "$name"
    verify "$name" "$sid" "" 20 "$km"
    finish "$name"
}

do_plain() { scenario_publish plain "" "" ""; }

do_streamid-publish() { scenario_publish streamid-publish "streamid=$SID_PUBLISH" "" "$SID_PUBLISH"; }

do_encrypted() {
    scenario_publish encrypted "passphrase=$PASS&pbkeylen=32" "passphrase=$PASS&pbkeylen=32" "" km
}

do_streamid-request() {
    # the listener serves data; the caller (m=request) receives it for ~1.5 s
    local name=streamid-request lpid
    start_capture "$name"
    bg_in "$NS_B" "$name-listener" \
        "$(gen 188 0.025 200) | $SLT -a:no -chunk:188 file://con $(q "$(listener_uri "")")"
    lpid=$BG_PID
    sleep 0.3
    run_in "$NS_A" "$name-caller" \
        "timeout -s INT 1.8 $SLT -a:no $(q "$(caller_uri "streamid=$SID_REQUEST")") file://con"
    sleep 0.3
    end_bg "$lpid"
    stop_capture "$name"
    verify "$name" "$SID_REQUEST" "" 20
    finish "$name"
}

# ffmpeg 5.1 does not URL-decode query values (%2F stays "%2F"; only '+'
# becomes ' ') and ends a value at '&'; its CLI option -streamid is ffmpeg's own
# (MPEG-TS stream id), not the srt protocol option. So the stream ID goes raw
# into the URL, as SRS documents it, and must contain no '&' and no '+'.
scenario_ffmpeg() {   # NAME SID
    local name=$1 sid=$2 lpid url
    case $sid in *'&'*|*'+'*) die "$name: ffmpeg cannot send a stream ID with '&' or '+'" ;; esac
    url="srt://$IP_B:$PORT?streamid=$sid&mode=caller&pkt_size=1316"
    start_capture "$name"
    bg_in "$NS_B" "$name-listener" "$SLT -a:no $(q "$(listener_uri "")") file://con"
    lpid=$BG_PID
    sleep 0.3
    run_in "$NS_A" "$name-ffmpeg" \
        "timeout -s INT 15 ffmpeg -nostdin -hide_banner -loglevel error -re \
           -f lavfi -i testsrc=size=160x120:rate=10 -t 2 \
           -c:v mpeg2video -b:v 100k -f mpegts $(q "$url")"
    sleep 0.3
    end_bg "$lpid"
    stop_capture "$name"
    verify "$name" "$sid" "" 10
    finish "$name"
}

do_streamid-plain() { scenario_ffmpeg streamid-plain "$SID_PLAIN"; }
do_streamid-long() { scenario_ffmpeg streamid-long "$SID_LONG"; }

scenario_rejected() {  # NAME CALLER_OPTS LISTENER_OPTS REJECT_HS_TYPE
    local name=$1 copts=$2 lopts=$3 reject=$4 lpid
    start_capture "$name"
    bg_in "$NS_B" "$name-listener" "$SLT -a:no $(q "$(listener_uri "$lopts")") file://con"
    lpid=$BG_PID
    sleep 0.3
    # the caller's connect fails (rejection): its non-zero exit is expected
    ip netns exec "$NS_A" bash -c \
        "$(gen 188 0.025 200) | timeout -s INT 5 $SLT -a:no -chunk:188 file://con $(q "$(caller_uri "$copts")")" \
        >/dev/null 2>>"$TMP/$name-caller.log" 9>&- || true
    sleep 0.3
    end_bg "$lpid"
    stop_capture "$name"
    verify "$name" "" "$reject" 0
    finish "$name"
}

# wrong passphrase: listener rejects with BADSECRET (handshake type 1010)
do_rejected() {
    scenario_rejected rejected "passphrase=$WRONG_PASS&pbkeylen=32" "passphrase=$PASS&pbkeylen=32" 1010
}
# caller encrypts, listener has no passphrase: UNSECURE (1011)
do_rejected-unsecure() {
    scenario_rejected rejected-unsecure "passphrase=$PASS&pbkeylen=32" "" 1011
}

do_ipv6() {
    local name=ipv6 lpid
    start_capture "$name"
    bg_in "$NS_B" "$name-listener" "$SLT -a:no $(q "srt://[::]:$PORT?mode=listener") file://con"
    lpid=$BG_PID
    sleep 0.3
    run_in "$NS_A" "$name-caller" \
        "$(gen 188 0.025 200) | timeout -s INT 1.8 $SLT -a:no -chunk:188 file://con $(q "srt://[$IP6_B]:$PORT?mode=caller&streamid=$SID_PUBLISH")"
    sleep 0.3
    end_bg "$lpid"
    stop_capture "$name"
    verify "$name" "$SID_PUBLISH" "" 20
    finish "$name"
}

ALL=(plain streamid-publish streamid-request streamid-plain streamid-long encrypted rejected rejected-unsecure ipv6)

write_manifest() {
    "$PY" - "$OUT/manifest.json" "$PORT" "$PASS" "$WRONG_PASS" \
        "$SID_PUBLISH" "$SID_REQUEST" "$SID_PLAIN" "$SID_LONG" <<'EOF'
import json, sys
out, port, pw, wrong, s_pub, s_req, s_plain, s_long = sys.argv[1:]
port = int(port)
A, B, A6, B6 = "198.18.10.1", "198.18.10.2", "2001:db8:10::1", "2001:db8:10::2"
def e(f, d, sid, pw_, expect, **kw):
    # handshake extension blocks of the caller's and the listener's CONCLUSION
    cx = ["HSREQ"] + (["KMREQ"] if pw_ else []) + (["SID"] if sid else [])
    lx = [] if expect.startswith("rejected") else ["HSRSP"] + (["KMRSP"] if pw_ else [])
    r = {"file": f, "description": d, "stream_id": sid, "passphrase": pw_,
         "expect": expect, "srt_port": port, "caller": A, "listener": B,
         "caller_conclusion_ext": cx, "listener_conclusion_ext": lx}
    r.update(kw)
    return r
m = [
  e("plain.pcap", "srt-live-transmit caller publishes 188-byte chunks to a "
    "srt-live-transmit listener: handshake without stream ID, data, ACKs, SHUTDOWN",
    None, None, "connected"),
  e("streamid-publish.pcap", "srt-live-transmit caller publishes with an "
    "access-control stream ID", s_pub, None, "connected",
    stream_url="__defaultVhost__/live/livestream"),
  e("streamid-request.pcap", "srt-live-transmit caller requests (plays); the "
    "listener sends data to the caller", s_req, None, "connected",
    stream_url="example.com/live/cam1"),
  e("streamid-plain.pcap", "ffmpeg (libsrt) caller publishes MPEG-TS, SRS plain "
    "stream ID with vhost (not #!:: form), 1316-byte payloads", s_plain, None,
    "connected"),
  e("streamid-long.pcap", "ffmpeg (libsrt) caller publishes MPEG-TS with a %d-byte "
    "#!:: stream ID (%d-word SID extension, last word zero-padded)"
    % (len(s_long), (len(s_long) + 3) // 4), s_long, None, "connected",
    stream_url="example.com/" + s_long.split(",r=")[1].split(",")[0]),
  e("encrypted.pcap", "srt-live-transmit caller and listener with the same "
    "passphrase, AES-256 (pbkeylen=32): KMREQ/KMRSP, encrypted data", None, pw,
    "connected", pbkeylen=32),
  e("rejected.pcap", "caller with a wrong passphrase: the listener rejects the "
    "CONCLUSION (BADSECRET, handshake type 1010)", None, wrong,
    "rejected: SRT_REJ_BADSECRET (10), handshake type 1010",
    listener_passphrase=pw, pbkeylen=32, reject_reason=10, reject_hs_type=1010),
  e("rejected-unsecure.pcap", "caller with a passphrase, listener without: the "
    "listener rejects the CONCLUSION (UNSECURE, handshake type 1011)", None, pw,
    "rejected: SRT_REJ_UNSECURE (11), handshake type 1011",
    listener_passphrase=None, pbkeylen=32, reject_reason=11, reject_hs_type=1011),
  e("ipv6.pcap", "as streamid-publish, over IPv6 (2001:db8:10::/64)", s_pub, None,
    "connected", stream_url="__defaultVhost__/live/livestream", caller=A6, listener=B6),
]
with open(out, "w") as f:
    json.dump(m, f, indent=2)
    f.write("\n")
EOF
}

# --- main -----------------------------------------------------------------------------
main() {
    local scen s start
    if [ $# -gt 0 ]; then scen=("$@"); else scen=("${ALL[@]}"); fi
    for s in "${scen[@]}"; do
        declare -F "do_$s" >/dev/null || die "unknown scenario: $s"
    done
    start=$(date +%s)
    mkdir -p "$OUT"
    # temporary folders of runs that were killed (-9); we hold the lock
    find /tmp -maxdepth 1 -type d -name 'srtcap.??????' -exec rm -rf {} + 2>/dev/null || true
    TMP=$(mktemp -d /tmp/srtcap.XXXXXX)
    write_generator
    setup
    for s in "${scen[@]}"; do
        log "capturing $s"
        "do_$s"
    done
    if [ $# -eq 0 ]; then write_manifest; fi
    log "done in $(( $(date +%s) - start )) s"
}

main "$@"
