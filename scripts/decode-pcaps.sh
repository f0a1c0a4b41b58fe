#!/usr/bin/env bash
# decode-pcaps.sh — print every SRT packet of the captures, one line each.
#
# Usage: scripts/decode-pcaps.sh [PCAP|DIR ...]      (default: pcaps/)
# The SRT port of a capture is the destination port of its first UDP packet (a
# caller's first INDUCTION goes to the listener); SRT_PORT=N overrides it.
# Output per file:
#   == plain.pcap (97 frames, SRT port 10080)
#      1 198.18.10.1:41234 -> 198.18.10.2:10080 SRT HANDSHAKE INDUCTION v4 ...
#      5 198.18.10.1:41234 -> 198.18.10.2:10080 SRT DATA seq=... len=188 ...
set -euo pipefail

command -v tshark >/dev/null || { echo "decode-pcaps: tshark is not installed" >&2; exit 1; }
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[ $# -gt 0 ] || set -- "$ROOT/pcaps"

files=()
for a in "$@"; do
    if [ -d "$a" ]; then
        for f in "$a"/*.pcap "$a"/*.pcapng; do [ -e "$f" ] && files+=("$f"); done
    elif [ -e "$a" ]; then
        files+=("$a")
    else
        echo "decode-pcaps: no such file: $a" >&2; exit 1
    fi
done
[ ${#files[@]} -gt 0 ] || { echo "decode-pcaps: no pcap found in $*" >&2; exit 1; }

decode() {  # FILE
    local f=$1 port nframes ports
    ports=$(tshark -r "$f" -T fields -e udp.dstport 2>/dev/null) ||
        { echo "== ${f##*/} (unreadable)"; return 1; }
    nframes=0
    [ -z "$ports" ] || nframes=$(grep -c '' <<<"$ports")
    port=${SRT_PORT:-$(grep -m1 . <<<"$ports" || true)}
    if [ -z "$port" ]; then
        echo "== ${f##*/} ($nframes frames, no UDP)"
        return 0
    fi
    echo "== ${f##*/} ($nframes frames, SRT port $port)"
    tshark -r "$f" -d "udp.port==$port,srt" -Y srt -T fields \
        -E separator=/t -E occurrence=a -E aggregator='|' \
        -e frame.number -e ip.src -e ipv6.src -e udp.srcport \
        -e ip.dst -e ipv6.dst -e udp.dstport -e udp.length \
        -e srt.iscontrol -e srt.type -e srt.seqno -e srt.msgno -e srt.pb \
        -e srt.msg.enc -e srt.msg.rexmit -e srt.id -e srt.timestamp \
        -e srt.hs.version -e srt.hs.reqtype -e srt.hs.id -e srt.hs.cookie \
        -e srt.hs.encfield -e srt.hs.blocktype -e srt.ackno -e srt.ack_seqno \
        -e srt.exttype -e srt.hs.sid 2>/dev/null |
    awk -F'\t' '
    function first(s) { sub(/\|.*/, "", s); return s }
    function addr(ip4, ip6, p) { return (ip4 != "" ? ip4 : "[" ip6 "]") ":" p }
    BEGIN {
        ctl["0x0000"] = "HANDSHAKE"; ctl["0x0001"] = "KEEPALIVE"; ctl["0x0002"] = "ACK"
        ctl["0x0003"] = "NAK";       ctl["0x0004"] = "CONGESTION"; ctl["0x0005"] = "SHUTDOWN"
        ctl["0x0006"] = "ACKACK";    ctl["0x0007"] = "DROPREQ";    ctl["0x0008"] = "PEERERROR"
        ctl["0x7fff"] = "USER"
        hs["1"] = "INDUCTION"; hs["-1"] = "CONCLUSION"; hs["0"] = "WAVEAHAND"
        hs["-2"] = "AGREEMENT"; hs["-3"] = "DONE"
        ext["0x0001"] = "HSREQ"; ext["0x0002"] = "HSRSP"; ext["0x0003"] = "KMREQ"
        ext["0x0004"] = "KMRSP"; ext["0x0005"] = "SID"; ext["0x0006"] = "CONGESTION"
        ext["0x0007"] = "FILTER"; ext["0x0008"] = "GROUP"
        enc["0x0000"] = "none"; enc["0x0002"] = "AES-128"; enc["0x0003"] = "AES-192"
        enc["0x0004"] = "AES-256"
        kk[0] = "clear"; kk[1] = "even"; kk[2] = "odd"; kk[3] = "both"
        pbn[0] = "middle"; pbn[1] = "last"; pbn[2] = "first"; pbn[3] = "solo"
        rj[1] = "SYSTEM"; rj[2] = "PEER"; rj[3] = "RESOURCE"; rj[4] = "ROGUE"
        rj[5] = "BACKLOG"; rj[6] = "IPE"; rj[7] = "CLOSE"; rj[8] = "VERSION"
        rj[9] = "RDVCOOKIE"; rj[10] = "BADSECRET"; rj[11] = "UNSECURE"
        rj[12] = "MESSAGEAPI"; rj[13] = "CONGESTION"; rj[14] = "FILTER"
        rj[15] = "GROUP"; rj[16] = "TIMEOUT"
    }
    {
        line = sprintf("%6s %s -> %s SRT", $1, addr($2, $3, $4), addr($5, $6, $7))
        plen = $8 - 8 - 16
        if ($9 != "1" && $9 != "True") {
            line = line sprintf(" DATA seq=%s msg=%s pb=%s key=%s%s dst=%s len=%d",
                $11, $12, pbn[$13 + 0], kk[$14 + 0], ($15 == "1" || $15 == "True") ? " rexmit" : "",
                $16, plen)
            print line; next
        }
        t = tolower($10)
        name = (t in ctl) ? ctl[t] : "CTRL(" t ")"
        line = line " " name
        if (t == "0x0000") {
            rt = $19
            if (rt in hs) rtn = hs[rt]
            else if (rt + 0 > 1000) {
                r = rt - 1000
                rtn = "REJECT(" rt " = 1000+" r ((r in rj) ? " " rj[r] : "") ")"
            } else rtn = "TYPE(" rt ")"
            blocks = ""
            n = split($23, b, "|")
            for (i = 1; i <= n; i++) if (b[i] != "")
                blocks = blocks (blocks == "" ? "" : ",") ((b[i] in ext) ? ext[b[i]] : b[i])
            line = line sprintf(" %s v%s sock=%s cookie=%s dst=%s", rtn, first($18), $20, $21, $16)
            if ($22 != "" && $22 != "0x0000") line = line " enc=" (($22 in enc) ? enc[$22] : $22)
            if (blocks != "") line = line " ext=" blocks
            if ($27 != "") line = line " sid=\"" $27 "\""
        } else if (t == "0x0002") {
            line = line sprintf(" ackno=%s ack_seq=%s dst=%s", $24, $25, $16)
        } else if (t == "0x0006") {
            line = line sprintf(" ackno=%s dst=%s", $24, $16)
        } else if (t == "0x7fff") {
            line = line sprintf(" subtype=%s dst=%s len=%d", $26, $16, plen)
        } else {
            line = line sprintf(" dst=%s", $16)
            if (plen > 0) line = line sprintf(" len=%d", plen)
        }
        print line
    }'
}

rc=0
for f in "${files[@]}"; do
    decode "$f" || { echo "decode-pcaps: failed to decode $f" >&2; rc=1; }
done
exit "$rc"
