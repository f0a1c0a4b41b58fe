"""netlab — test hosts for srtfwd's end-to-end tests (Linux network namespaces).

    with NetLab(prefix="t1") as lab:
        lab.srtfwd(lab.fwd_config(backends=[("198.18.1.2", 10080)]))
        lab.popen_in(lab.origin_ns, [SRT_ORIGIN, "--bind", "198.18.1.2", "--port", "10080"])
        r = lab.run_in(lab.caller_ns(), [SRT_PEER, "play", "--to", "198.18.0.1:10080", ...])

Topology (forwarder i = 0, 1, ...; the lab makes forwarder 0 unless forwarders=0):

    caller ns <prefix>-c<i>      veth <id>-c<i>n  198.18.{2i}.2/24 (.3, .4 ... with caller_addrs)
        |
    root ns: <id>-c<i>h  (no address)  -- srtfwd port 0 (net_af_packet0), answers 198.18.{2i}.1
    root ns: <id>-o<i>h  (no address)  -- srtfwd port 1 (net_af_packet1), answers 198.18.{2i+1}.1
        |
    origin ns <prefix>-origin    veth <id>-o<i>n  198.18.{2i+1}.2 .. .5 /24 (origin_addrs)

shared_caller=True puts every forwarder's caller link in the one caller ns c0
(198.18.0.2 toward forwarder 0, 198.18.2.2 toward forwarder 1, ...): one caller
socket reaches every forwarder from the same address, as callers behind a router
reach several hosts of one VIP (the routes are the links' own /24s).

All forwarders share the one origin namespace; it has addresses in every
forwarder's origin-side subnet, so an origin bound to 0.0.0.0 is reachable from
every forwarder directly, and one bound to 198.18.1.2 is reachable from forwarder
i > 0 through its port-1 gateway 198.18.{2i+1}.2 (fwd_config sets it).

With router=True (IPv4 only) a router namespace stands between the callers
and every forwarder's port 0, as a data-centre router in front of several
hosts sharing a VIP:

    caller ns <prefix>-rc<k>     veth  198.18.{100+k}.2 .. /24 (caller_addrs), default via .254
        |
    router ns <prefix>-router    198.18.{100+k}.254/24 toward caller ns k, and
        |                        198.18.{2i}.254/24 on forwarder i's caller link (its veth
        |                        <id>-c<i>n); IPv4 forwarding on (there only), ECMP hashing
        |                        on ports (fib_multipath_hash_policy=1)
    root ns: <id>-c<i>h -- srtfwd i port 0, 198.18.{2i}.1, gateway 198.18.{2i}.254

route_vip() points the router's route to a VIP at a set of forwarders (a
static multipath route); the BGP lab replaces it with BIRD's. Port 0's
gateway (the router) is then the forwarder's first, the one srtfwd takes for
every destination off its links: each forwarder's origins must be on-link,
fwd(i).origin_ip with an origin bound to 0.0.0.0.

Rules kept here: only namespaces and veths this lab creates, addresses in
198.18.0.0/15 only (IPv6, opt-in, in 2001:2::/48, RFC 5180 benchmarking); checksum
offload off on every veth end; the root-side ends carry no address, IPv4
forwarding off, IPv6 disabled, no ARP answers. Everything the lab started is
stopped and every namespace/veth deleted in __exit__, on exceptions, and on
SIGTERM/SIGINT/SIGHUP (the handler cleans up, then the signal takes its default
course). Children get PR_SET_PDEATHSIG=SIGKILL, so even a SIGKILLed test leaves no
process behind; its namespaces are removed by the next lab of the same slot.

Names: a lab takes the first free slot k (0..9) of its prefix, holding
/run/lock/srtlab-<prefix><k>.lock; id = <prefix><k>. Namespaces are
srtlab-<id>-<role>, interfaces <id>-<kind><n><end> (<= 15 characters). A slot
whose lock we hold has no live owner, so anything still named after it is stale
and is deleted first. Two labs (same or different prefix) never collide.

Environment: SRTFWD (forwarder binary), NETLAB_KEEP=1 keeps the work directory
(logs, configs) after a successful run; after a failure it is kept unless
keep_logs=False.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import ipaddress
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Iterable, Sequence

__all__ = ["NetLab", "FwdLinks", "Link", "LabProc", "Srtfwd", "Redis", "LabError", "RouterCaller"]

IP = "/usr/sbin/ip" if os.path.exists("/usr/sbin/ip") else "ip"
ETHTOOL = "/usr/sbin/ethtool" if os.path.exists("/usr/sbin/ethtool") else "ethtool"
SYSCTL = "/usr/sbin/sysctl" if os.path.exists("/usr/sbin/sysctl") else "sysctl"
PR_SET_PDEATHSIG = 1
MAX_SLOTS = 10

_libc = ctypes.CDLL(None, use_errno=True)


def _child_setup() -> None:
    """preexec_fn: die with the parent (even if it is SIGKILLed)."""
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    # default dispositions, whatever the test runner changed
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(s, signal.SIG_DFL)


class LabError(RuntimeError):
    pass


def _sh(argv: Sequence[str], check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
    r = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise LabError(f"{' '.join(argv)} failed ({r.returncode}): {r.stderr.strip()}")
    return r


def free_port(host: str = "127.0.0.1", kind: int = socket.SOCK_STREAM) -> int:
    """A port free right now on host (TCP by default)."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------------
# processes


class LabProc(subprocess.Popen):
    """A Popen whose stdout/stderr go to files in the lab's work directory."""

    name: str
    stdout_path: str
    stderr_path: str

    # (not "errors": Popen already has that attribute)
    def out_text(self) -> str:
        """Everything the process wrote to stdout so far."""
        return _read(self.stdout_path)

    def err_text(self) -> str:
        """Everything the process wrote to stderr so far."""
        return _read(self.stderr_path)

    def wait_for(self, pattern: str, timeout: float = 10, stream: str = "stdout") -> re.Match:
        """Wait until `pattern` (regex) appears in the process's stdout (or stderr)."""
        path = self.stdout_path if stream == "stdout" else self.stderr_path
        rx = re.compile(pattern, re.M)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(_read(path))
            if m:
                return m
            if self.poll() is not None:
                m = rx.search(_read(path))
                if m:
                    return m
                raise LabError(f"{self.name} exited ({self.returncode}) before /{pattern}/:\n"
                               f"{_tail(self.stdout_path)}\n{_tail(self.stderr_path)}")
            if time.monotonic() > deadline:
                raise LabError(f"{self.name}: no /{pattern}/ within {timeout} s:\n"
                               f"{_tail(self.stdout_path)}\n{_tail(self.stderr_path)}")
            time.sleep(0.05)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 5) -> int:
        """Send sig, wait up to timeout, then SIGKILL. Returns the exit status."""
        if self.poll() is None:
            try:
                self.send_signal(sig)
            except ProcessLookupError:
                pass
            try:
                self.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                self.wait(5)
        return self.returncode


def _read(path: str) -> str:
    try:
        with open(path, "r", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def _tail(path: str, n: int = 30) -> str:
    lines = _read(path).splitlines()[-n:]
    return f"--- {os.path.basename(path)}\n" + "\n".join(lines)


class Srtfwd:
    """A running forwarder started by NetLab.srtfwd()."""

    def __init__(self, proc: LabProc, fwd: "FwdLinks", config_path: str, file_prefix: str):
        self.proc = proc
        self.fwd = fwd
        self.config_path = config_path
        self.file_prefix = file_prefix
        self.log_path = proc.stderr_path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        return _read(self.log_path)

    def wait_log(self, pattern: str, timeout: float = 10) -> re.Match:
        return self.proc.wait_for(pattern, timeout, stream="stderr")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def admin_get(self, path: str, timeout: float = 5) -> tuple[int, str]:
        """GET path on the [admin] listener of its config: (HTTP status, body),
        an error status (503 ...) returned like any other."""
        with open(self.config_path) as f:
            m = re.search(r'^listen = "(127\.0\.0\.1:\d+)"', f.read(), re.M)
        if not m:
            raise LabError("no [admin] listen = \"127.0.0.1:PORT\" in " + self.config_path)
        try:
            with urllib.request.urlopen(f"http://{m.group(1)}{path}", timeout=timeout) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def admin_json(self, path: str):
        """GET path from its [admin] listener, its JSON body parsed (an error status raises)."""
        status, body = self.admin_get(path)
        if status != 200:
            raise LabError(f"GET {path}: HTTP {status}: {body[:200]}")
        return json.loads(body)

    def metric(self, series: str) -> int:
        """One series' value in /metrics, e.g. 'srtfwd_dropped_packets_total{reason="no_session"}'
        (0 when absent)."""
        m = re.search(r"^" + re.escape(series) + r" (\d+)$", self.admin_get("/metrics")[1], re.M)
        return int(m.group(1)) if m else 0

    def stop(self, timeout: float = 15) -> int:
        """SIGTERM, wait (the forwarder drains), then SIGKILL. Returns the exit status."""
        rc = self.proc.stop(signal.SIGTERM, timeout)
        shutil.rmtree(f"/var/run/dpdk/{self.file_prefix}", ignore_errors=True)
        return rc


class Redis:
    """A private redis-server on 127.0.0.1 (no persistence) with a tiny RESP client."""

    def __init__(self, proc: LabProc, port: int):
        self.proc = proc
        self.host = "127.0.0.1"
        self.port = port
        self.addr = f"127.0.0.1:{port}"

    def cmd(self, *args, timeout: float = 5):
        """Run one command: cmd("SET", "k", "v"), cmd("KEYS", "*")."""
        with socket.create_connection((self.host, self.port), timeout=timeout) as s:
            parts = [f"*{len(args)}\r\n".encode()]
            for a in args:
                b = a if isinstance(a, bytes) else str(a).encode()
                parts.append(b"$%d\r\n%s\r\n" % (len(b), b))
            s.sendall(b"".join(parts))
            return _resp(s.makefile("rb"))

    def ping(self) -> bool:
        try:
            return self.cmd("PING", timeout=1) == "PONG"
        except OSError:
            return False

    def stop(self) -> int:
        return self.proc.stop()


def _resp(f):
    line = f.readline()
    if not line:
        raise LabError("redis: connection closed")
    t, rest = line[:1], line[1:-2]
    if t == b"+":
        return rest.decode()
    if t == b"-":
        raise LabError("redis: " + rest.decode())
    if t == b":":
        return int(rest)
    if t == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)[:-2]
        return data.decode(errors="replace")
    if t == b"*":
        n = int(rest)
        return None if n < 0 else [_resp(f) for _ in range(n)]
    raise LabError(f"redis: bad reply {line!r}")


# ---------------------------------------------------------------------------------
# topology records


@dataclass
class Link:
    """A veth pair between two namespaces (NetLab.link)."""
    ns_a: str
    ns_b: str
    if_a: str
    if_b: str
    addrs_a: list[str]
    addrs_b: list[str]

    @property
    def ip_a(self) -> str:
        return self.addrs_a[0].split("/")[0]

    @property
    def ip_b(self) -> str:
        return self.addrs_b[0].split("/")[0]


@dataclass
class FwdLinks:
    """The two links of forwarder `index`: caller side (port 0) and origin side (port 1)."""
    index: int
    caller_ns: str
    caller_if: str          # in caller_ns
    caller_host_if: str     # root ns, no address: net_af_packet0
    origin_ns: str
    origin_if: str          # in origin_ns
    origin_host_if: str     # root ns, no address: net_af_packet1
    fwd_ip: str             # the forwarder's caller-side address (port 0), e.g. 198.18.0.1
    fwd_origin_ip: str      # the forwarder's origin-side address (port 1), e.g. 198.18.1.1
    caller_ips: list[str]   # in caller_ns, e.g. 198.18.0.2, .3 ...
    origin_ips: list[str]   # in origin_ns on this link, e.g. 198.18.1.2 .. .5
    prefix_len: int = 24
    fwd_ip6: str | None = None
    fwd_origin_ip6: str | None = None
    caller_ips6: list[str] = field(default_factory=list)
    origin_ips6: list[str] = field(default_factory=list)
    # Router topology: port 0's next hop toward the callers (the router).
    caller_gateway: str | None = None

    @property
    def caller_ip(self) -> str:
        return self.caller_ips[0]

    @property
    def origin_ip(self) -> str:
        return self.origin_ips[0]

    @property
    def origin_gateway(self) -> str:
        """Next hop for port 1 toward origin addresses of other subnets."""
        return self.origin_ips[0]


@dataclass
class RouterCaller:
    """A caller namespace behind the router (NetLab(router=True))."""
    ns: str
    ifc: str
    ips: list[str]          # e.g. 198.18.100.2, .3 ...
    gateway: str            # the router, e.g. 198.18.100.254

    @property
    def ip(self) -> str:
        return self.ips[0]


# ---------------------------------------------------------------------------------


class NetLab:
    """Network namespaces, veths, and the processes of one end-to-end test.

    NetLab(prefix="t1", forwarders=1, caller_addrs=1, origin_addrs=4, ipv6=False,
           srtfwd_bin=None, workdir=None, keep_logs=None, router=False, router_callers=1,
           shared_caller=False)

    router: the router topology (module docstring); router_callers caller
    namespaces behind it (self.callers), caller_addrs addresses each.

    keep_logs: None keeps the work directory (logs, configs) after a failure or
    with NETLAB_KEEP=1, else removes it; True/False force. A workdir= given by
    the caller is never removed.
    """

    _active: list["NetLab"] = []
    _old_handlers: dict = {}
    _cleaning = False

    def __init__(self, prefix: str = "lab", forwarders: int = 1, caller_addrs: int = 1,
                 origin_addrs: int = 4, ipv6: bool = False, srtfwd_bin: str | None = None,
                 workdir: str | None = None, keep_logs: bool | None = None, router: bool = False,
                 router_callers: int = 1, shared_caller: bool = False):
        if not re.fullmatch(r"[a-z][a-z0-9]{0,6}", prefix):
            raise ValueError("prefix: 1-7 characters [a-z0-9], starting with a letter")
        if os.geteuid() != 0:
            raise LabError("NetLab needs root (network namespaces)")
        self.prefix = prefix
        self._n_fwd = forwarders
        self._caller_addrs = caller_addrs
        self._origin_addrs = origin_addrs
        self.ipv6 = ipv6
        self.srtfwd_bin = srtfwd_bin or os.environ.get("SRTFWD")
        self._workdir_arg = workdir
        self._keep_logs = keep_logs
        self._shared_caller = shared_caller
        self.id = ""
        self.workdir = ""
        self.namespaces: list[str] = []
        self.host_ifs: list[str] = []
        self.forwarders: list[FwdLinks] = []
        self.links: list[Link] = []
        self.procs: list[LabProc] = []
        self.fwd_procs: list[Srtfwd] = []
        self._lock_fd: int | None = None
        self._scratch: list[str] = []  # data dirs removed at close, logs kept or not
        self._nlink = 0
        self._nproc = 0
        self._closed = True
        self.origin_ns = ""
        self._router = router
        self._router_callers = router_callers
        if router and ipv6:
            raise LabError("the router topology is IPv4 only")
        self.router_ns = ""
        self.callers: list[RouterCaller] = []

    # -- context ----------------------------------------------------------------

    def __enter__(self) -> "NetLab":
        self._take_slot()
        self._closed = False
        NetLab._install_handlers()
        NetLab._active.append(self)
        try:
            self._cleanup_stale()
            if self._workdir_arg:
                os.makedirs(self._workdir_arg, exist_ok=True)
                self.workdir = self._workdir_arg
            else:
                self.workdir = tempfile.mkdtemp(prefix=f"srtlab-{self.id}-")
            self.origin_ns = self.netns("origin")
            if self._router:
                self._add_router()
            for _ in range(self._n_fwd):
                self.add_forwarder()
        except BaseException:
            self.close(failed=True)
            raise
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(failed=exc_type is not None)

    def close(self, failed: bool = False) -> None:
        """Stop every process, delete every namespace and veth. Idempotent."""
        if self._closed:
            return
        self._closed = True
        for f in self.fwd_procs:
            try:
                f.stop(timeout=10)
            except Exception as e:  # keep cleaning
                print(f"netlab: stopping srtfwd: {e}", file=sys.stderr)
        for p in reversed(self.procs):
            try:
                p.stop(timeout=3)
            except Exception as e:
                print(f"netlab: stopping {p.name}: {e}", file=sys.stderr)
        for d in self._scratch:
            shutil.rmtree(d, ignore_errors=True)
        for ns in reversed(self.namespaces):
            self._delete_ns(ns)
        for ifc in self.host_ifs:
            if os.path.exists(f"/sys/class/net/{ifc}"):
                _sh([IP, "link", "del", ifc], check=False)
        if self in NetLab._active:
            NetLab._active.remove(self)
        if not NetLab._active:
            NetLab._restore_handlers()
        if self.workdir and not self._workdir_arg:
            keep = self._keep_logs
            if keep is None:
                keep = failed or bool(os.environ.get("NETLAB_KEEP"))
            if keep:
                print(f"netlab: logs kept in {self.workdir}", file=sys.stderr)
            else:
                shutil.rmtree(self.workdir, ignore_errors=True)
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    # -- slot, stale state, signals ------------------------------------------------

    def _take_slot(self) -> None:
        os.makedirs("/run/lock", exist_ok=True)
        for k in range(MAX_SLOTS):
            path = f"/run/lock/srtlab-{self.prefix}{k}.lock"
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                os.close(fd)
                if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                    continue
                raise
            self._lock_fd = fd
            self.id = f"{self.prefix}{k}"
            return
        raise LabError(f"all {MAX_SLOTS} lab slots of prefix {self.prefix!r} are in use")

    def _ns_name(self, role: str) -> str:
        return f"srtlab-{self.id}-{role}"

    def _cleanup_stale(self) -> None:
        """Delete namespaces and root-ns veths of an earlier owner of our slot."""
        head = f"srtlab-{self.id}-"
        r = _sh([IP, "netns", "list"], check=False)
        for line in r.stdout.splitlines():
            name = line.split()[0] if line.split() else ""
            if name.startswith(head):
                print(f"netlab: removing stale namespace {name}", file=sys.stderr)
                self._delete_ns(name)
        rx = re.compile(rf"^{re.escape(self.id)}-[col]\d+[hnab]$")
        for ifc in os.listdir("/sys/class/net"):
            if rx.match(ifc):
                print(f"netlab: removing stale interface {ifc}", file=sys.stderr)
                _sh([IP, "link", "del", ifc], check=False)
        for d in _glob_dir("/var/run/dpdk", f"srtlab-{self.id}-"):
            shutil.rmtree(d, ignore_errors=True)

    def _delete_ns(self, ns: str) -> None:
        """End the processes inside ns (all ours), then delete it (and its veths)."""
        if not os.path.exists(f"/run/netns/{ns}"):
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            pids = self._ns_pids(ns)
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            for _ in range(30):
                if not self._ns_pids(ns):
                    break
                time.sleep(0.1)
        _sh([IP, "netns", "del", ns], check=False)

    @staticmethod
    def _ns_pids(ns: str) -> list[int]:
        r = _sh([IP, "netns", "pids", ns], check=False)
        return [int(x) for x in r.stdout.split() if x.isdigit() and int(x) != os.getpid()]

    @classmethod
    def _install_handlers(cls) -> None:
        if cls._old_handlers or threading.current_thread() is not threading.main_thread():
            return
        for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            cls._old_handlers[s] = signal.signal(s, cls._on_signal)

    @classmethod
    def _restore_handlers(cls) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for s, h in cls._old_handlers.items():
            signal.signal(s, h)
        cls._old_handlers = {}

    @classmethod
    def _on_signal(cls, sig, frame) -> None:
        if cls._cleaning:
            return
        cls._cleaning = True
        old = cls._old_handlers.get(sig, signal.SIG_DFL)  # close() restores and forgets them
        for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(s, signal.SIG_IGN)
        print(f"netlab: signal {sig}: cleaning up", file=sys.stderr)
        for lab in list(cls._active):
            try:
                lab.close(failed=True)
            except Exception as e:
                print(f"netlab: cleanup: {e}", file=sys.stderr)
        # now let the signal do what it would have done
        cls._old_handlers = {}
        if callable(old) and old not in (signal.SIG_DFL, signal.SIG_IGN):
            for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                signal.signal(s, signal.SIG_DFL)
            cls._cleaning = False
            old(sig, frame)          # e.g. Python's default SIGINT -> KeyboardInterrupt
            return
        signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)

    # -- namespaces and links ----------------------------------------------------------

    def netns(self, role: str) -> str:
        """Create namespace srtlab-<id>-<role> with lo up; returns its name."""
        if not re.fullmatch(r"[a-z0-9]{1,20}", role):
            raise ValueError("role: [a-z0-9]{1,20}")
        ns = self._ns_name(role)
        if ns in self.namespaces:
            return ns
        _sh([IP, "netns", "add", ns])
        self.namespaces.append(ns)
        _sh([IP, "-n", ns, "link", "set", "lo", "up"])
        return ns

    def _veth(self, host_or_ns_a: str | None, name_a: str, ns_b: str, name_b: str) -> None:
        """veth name_a (in ns host_or_ns_a, None = root) <-> name_b (in ns_b)."""
        if host_or_ns_a is None:
            self.host_ifs.append(name_a)
            _sh([IP, "link", "add", name_a, "type", "veth", "peer", "name", name_b, "netns", ns_b])
        else:
            _sh([IP, "-n", host_or_ns_a, "link", "add", name_a, "type", "veth",
                 "peer", "name", name_b, "netns", ns_b])

    def _setup_ns_end(self, ns: str, ifc: str, addrs: Iterable[str], addrs6: Iterable[str] = ()) -> None:
        addrs6 = list(addrs6)
        self.run_in(ns, [ETHTOOL, "-K", ifc, "tx", "off", "rx", "off"], check=True)
        self.run_in(ns, [SYSCTL, "-qw", f"net.ipv4.conf.{ifc}.forwarding=0"], check=True)
        self.run_in(ns, [SYSCTL, "-qw", f"net.ipv6.conf.{ifc}.disable_ipv6={0 if addrs6 else 1}"],
                    check=True)
        for a in addrs:
            _sh([IP, "-n", ns, "addr", "add", a, "dev", ifc])
        for a in addrs6:
            _sh([IP, "-n", ns, "-6", "addr", "add", a, "dev", ifc, "nodad"])
        _sh([IP, "-n", ns, "link", "set", ifc, "up"])

    def _setup_host_end(self, ifc: str) -> None:
        """Root-ns end owned by DPDK af_packet: no address, no routing, no answers."""
        _sh([ETHTOOL, "-K", ifc, "tx", "off", "rx", "off"])
        _sh([SYSCTL, "-qw", f"net.ipv4.conf.{ifc}.forwarding=0"])
        _sh([SYSCTL, "-qw", f"net.ipv6.conf.{ifc}.disable_ipv6=1"])
        _sh([SYSCTL, "-qw", f"net.ipv4.conf.{ifc}.arp_ignore=8"])
        _sh([IP, "addr", "flush", "dev", ifc])
        _sh([IP, "link", "set", ifc, "up"])

    def link(self, ns_a: str, ns_b: str, addrs_a: Sequence[str] | None = None,
             addrs_b: Sequence[str] | None = None) -> Link:
        """A veth pair between two lab namespaces. Without addresses, link j gets
        198.18.{100+j}.1/24 (a) and .2/24 (b)."""
        j = self._nlink
        self._nlink += 1
        if j > 99:
            raise LabError("too many links")
        if addrs_a is None:
            addrs_a = [f"198.18.{100 + j}.1/24"]
        if addrs_b is None:
            addrs_b = [f"198.18.{100 + j}.2/24"]
        for a in list(addrs_a) + list(addrs_b):
            _check_bench_addr(a)
        if_a, if_b = f"{self.id}-l{j}a", f"{self.id}-l{j}b"
        self._veth(ns_a, if_a, ns_b, if_b)
        self._setup_ns_end(ns_a, if_a, addrs_a)
        self._setup_ns_end(ns_b, if_b, addrs_b)
        link = Link(ns_a, ns_b, if_a, if_b, list(addrs_a), list(addrs_b))
        self.links.append(link)
        return link

    def _add_router(self) -> None:
        """The router namespace and the caller namespaces behind it."""
        self.router_ns = self.netns("router")
        for k in range(self._router_callers):
            # The link numbers these subnets use are taken, so that link()'s
            # own 198.18.{100+j} never meets them.
            j = self._nlink
            self._nlink += 1
            net = f"198.18.{100 + j}"
            ns = self.netns(f"rc{k}")
            ifc_r, ifc_c = f"{self.id}-l{j}a", f"{self.id}-l{j}b"
            ips = [f"{net}.{2 + a}" for a in range(self._caller_addrs)]
            self._veth(self.router_ns, ifc_r, ns, ifc_c)
            self._setup_ns_end(self.router_ns, ifc_r, [f"{net}.254/24"])
            self._setup_ns_end(ns, ifc_c, [f"{a}/24" for a in ips])
            _sh([IP, "-n", ns, "route", "add", "default", "via", f"{net}.254"])
            self.links.append(Link(self.router_ns, ns, ifc_r, ifc_c, [f"{net}.254/24"],
                                   [f"{a}/24" for a in ips]))
            self.callers.append(RouterCaller(ns, ifc_c, ips, f"{net}.254"))
        # Forwarding in the router namespace only (its own sysctls), ECMP
        # hashed on the ports too, so that the callers of one address spread;
        # no reverse-path filter (a VIP's answers come from whichever host).
        for kv in ("net.ipv4.ip_forward=1", "net.ipv4.conf.all.forwarding=1",
                   "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0",
                   "net.ipv4.fib_multipath_hash_policy=1"):
            self.run_in(self.router_ns, [SYSCTL, "-qw", kv], check=True)
        for link in self.links:
            if link.ns_a == self.router_ns:
                self._router_if_forwards(link.if_a)

    def _router_if_forwards(self, ifc: str) -> None:
        self.run_in(self.router_ns, [SYSCTL, "-qw", f"net.ipv4.conf.{ifc}.forwarding=1"], check=True)
        self.run_in(self.router_ns, [SYSCTL, "-qw", f"net.ipv4.conf.{ifc}.rp_filter=0"], check=True)

    def route_vip(self, vip: str, via: Sequence[str] = (), dev: str | None = None,
                  ns: str | None = None) -> None:
        """Point ns's route to vip (/32) at next hops `via` (a multipath route
        with several: `ip route replace VIP/32 nexthop via A nexthop via B`), or
        on-link through `dev`. ns: the router's by default. Calling it again
        changes the next-hop set."""
        ns = ns or self.router_ns
        if not ns:
            raise LabError("route_vip: no router (NetLab(router=True)) and no ns")
        _check_bench_addr(vip)
        six = ":" in vip
        dst = f"{vip}/{128 if six else 32}"
        argv = [IP, "-n", ns] + (["-6"] if six else []) + ["route", "replace", dst]
        if dev is not None:
            argv += ["dev", dev]
        elif len(via) == 1:
            argv += ["via", via[0]]
        elif via:
            for v in via:
                argv += ["nexthop", "via", v]
        else:
            raise LabError("route_vip: give via or dev")
        _sh(argv)

    def vip_nexthops(self, vip: str, ns: str | None = None) -> list[str]:
        """The gateways of ns's route to vip (the router's by default), sorted;
        [] without one."""
        ns = ns or self.router_ns
        six = ":" in vip
        r = _sh([IP, "-n", ns, "-j"] + (["-6"] if six else []) +
                ["route", "show", f"{vip}/{128 if six else 32}"], check=False)
        try:
            routes = json.loads(r.stdout or "[]")
        except ValueError:
            return []
        out = []
        for rt in routes:
            if "gateway" in rt:
                out.append(rt["gateway"])
            for nh in rt.get("nexthops", []):
                if "gateway" in nh:
                    out.append(nh["gateway"])
        return sorted(out)

    def add_forwarder(self, caller_addrs: int | None = None, origin_addrs: int | None = None) -> FwdLinks:
        """Add caller ns c<i> (router topology: the router's end) and the two
        root-ns veth ends of forwarder i."""
        i = len(self.forwarders)
        if i > 49:
            raise LabError("too many forwarders")
        nc = self._caller_addrs if caller_addrs is None else caller_addrs
        no = self._origin_addrs if origin_addrs is None else origin_addrs
        cnet, onet = f"198.18.{2 * i}", f"198.18.{2 * i + 1}"
        cns = self.router_ns if self._router else self.netns("c0" if self._shared_caller else f"c{i}")
        f = FwdLinks(
            index=i, caller_ns=cns, caller_if=f"{self.id}-c{i}n", caller_host_if=f"{self.id}-c{i}h",
            origin_ns=self.origin_ns, origin_if=f"{self.id}-o{i}n", origin_host_if=f"{self.id}-o{i}h",
            fwd_ip=f"{cnet}.1", fwd_origin_ip=f"{onet}.1",
            caller_ips=[f"{cnet}.254"] if self._router else [f"{cnet}.{2 + k}" for k in range(nc)],
            origin_ips=[f"{onet}.{2 + k}" for k in range(no)],
            caller_gateway=f"{cnet}.254" if self._router else None)
        if self.ipv6:  # RFC 5180 benchmarking range 2001:2::/48
            c6, o6 = f"2001:2:0:{2 * i:x}", f"2001:2:0:{2 * i + 1:x}"
            f.fwd_ip6, f.fwd_origin_ip6 = f"{c6}::1", f"{o6}::1"
            f.caller_ips6 = [f"{c6}::{2 + k:x}" for k in range(nc)]
            f.origin_ips6 = [f"{o6}::{2 + k:x}" for k in range(no)]
        self._veth(None, f.caller_host_if, cns, f.caller_if)
        self._veth(None, f.origin_host_if, self.origin_ns, f.origin_if)
        self._setup_host_end(f.caller_host_if)
        self._setup_host_end(f.origin_host_if)
        self._setup_ns_end(cns, f.caller_if, [f"{a}/24" for a in f.caller_ips],
                           [f"{a}/64" for a in f.caller_ips6])
        self._setup_ns_end(self.origin_ns, f.origin_if, [f"{a}/24" for a in f.origin_ips],
                           [f"{a}/64" for a in f.origin_ips6])
        if self._router:
            self._router_if_forwards(f.caller_if)
        self.forwarders.append(f)
        return f

    free_port = staticmethod(free_port)

    def caller_ns(self, i: int = 0) -> str:
        return self.forwarders[i].caller_ns

    def fwd(self, i: int = 0) -> FwdLinks:
        return self.forwarders[i]

    # -- processes ------------------------------------------------------------------------

    def _log_paths(self, name: str) -> tuple[str, str, str]:
        self._nproc += 1
        base = os.path.join(self.workdir, f"{self._nproc:02d}-{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}")
        return base, base + ".out", base + ".err"

    def _spawn(self, argv: Sequence[str], name: str, env: dict | None = None) -> LabProc:
        if self._closed:
            raise LabError("lab is closed")
        _, out, err = self._log_paths(name)
        with open(out, "wb") as fo, open(err, "wb") as fe:
            p = LabProc([str(a) for a in argv], stdin=subprocess.DEVNULL, stdout=fo, stderr=fe,
                        preexec_fn=_child_setup, start_new_session=True, env=env)
        p.name, p.stdout_path, p.stderr_path = name, out, err
        return p

    def popen_in(self, ns: str | None, argv: Sequence[str], name: str | None = None,
                 env: dict | None = None) -> LabProc:
        """Start argv in namespace ns (None: root ns), stdout/stderr to log files.
        Stopped (SIGTERM, then SIGKILL) when the lab closes."""
        name = name or os.path.basename(str(argv[0]))
        full = list(argv) if ns is None else [IP, "netns", "exec", ns, *argv]
        p = self._spawn(full, name, env)
        self.procs.append(p)
        return p

    def run_in(self, ns: str | None, argv: Sequence[str], timeout: float = 60, check: bool = False,
               input: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
        """Run argv in namespace ns to completion (text output captured). A
        process still running at the timeout is killed (TimeoutExpired)."""
        full = [str(a) for a in argv] if ns is None else [IP, "netns", "exec", ns, *map(str, argv)]
        r = subprocess.run(full, capture_output=True, text=True, timeout=timeout, input=input,
                           preexec_fn=_child_setup, env=env,
                           stdin=None if input is not None else subprocess.DEVNULL)
        if check and r.returncode != 0:
            raise LabError(f"{' '.join(full)} failed ({r.returncode}):\n{r.stdout}{r.stderr}")
        return r

    def rebind_source_port(self, ns: str, ip: str, old_port: int, new_port: int,
                           new_ip: str | None = None) -> None:
        """From now on, UDP that namespace ns sends from ip:old_port leaves as
        new_ip:new_port (new_ip: another address of ns; default ip), and
        answers to that come back to ip:old_port: a NAT that rebinds a caller
        mid-stream, its socket untouched. Once per namespace. The SNAT
        applies to new connections only, and the caller's existing conntrack
        entry (or one that the other side's packets to old_port create at any
        moment) would keep the old mapping: the moved packets get a conntrack
        zone of their own, set before conntrack looks, where no entry exists
        yet. One nft transaction: no packet sees half of it."""
        NFT = "/usr/sbin/nft" if os.path.exists("/usr/sbin/nft") else "nft"
        new_ip = new_ip or ip
        rules = (
            "table ip netlab_rebind {\n"
            "  chain raw_out { type filter hook output priority raw; }\n"
            "  chain raw_pre { type filter hook prerouting priority raw; }\n"
            "  chain nat_post { type nat hook postrouting priority srcnat; }\n"
            "}\n"
            f"add rule ip netlab_rebind raw_out ip saddr {ip} udp sport {old_port} ct zone set 7\n"
            f"add rule ip netlab_rebind raw_pre ip daddr {new_ip} udp dport {new_port} ct zone set 7\n"
            f"add rule ip netlab_rebind nat_post ip saddr {ip} udp sport {old_port} "
            f"snat to {new_ip}:{new_port}\n")
        self.run_in(ns, [NFT, "-f", "-"], input=rules, timeout=10, check=True)

    def ping(self, ns: str, ip: str, count: int = 1, timeout: float = 2) -> bool:
        """True if ip answers ICMP echo from namespace ns."""
        r = self.run_in(ns, ["ping", "-n", "-q", "-c", str(count), "-W", str(int(max(1, timeout))), ip],
                        timeout=timeout * count + 5)
        return r.returncode == 0

    def redis(self, timeout: float = 10, replica_of: "Redis | None" = None) -> Redis:
        """A private redis-server on 127.0.0.1, free port, no persistence; with
        replica_of, a replica of that one (replica-priority default: Sentinel
        may promote it). Its data directory goes at close, even after a failure."""
        extra = ["--replicaof", replica_of.host, str(replica_of.port)] if replica_of else []
        return self._redis_proc("redis-server", lambda port, d: [
            "redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--daemonize", "no", "--protected-mode", "no", "--dir", d,
            "--logfile", "", *extra], timeout)

    def sentinel(self, master: Redis, name: str = "srs", quorum: int = 1, down_after_ms: int = 1000,
                 failover_timeout_ms: int = 3000, timeout: float = 10) -> Redis:
        """A redis-sentinel on 127.0.0.1 that monitors master as `name`. Sentinel
        rewrites its config file, so it lives in the sentinel's own directory
        (removed at close)."""
        def argv(port: int, d: str) -> list[str]:
            conf = os.path.join(d, "sentinel.conf")
            with open(conf, "w") as f:
                f.write("\n".join([
                    f"port {port}", "bind 127.0.0.1", "protected-mode no", "daemonize no",
                    f"dir {d}", 'logfile ""',
                    f"sentinel monitor {name} {master.host} {master.port} {quorum}",
                    f"sentinel down-after-milliseconds {name} {down_after_ms}",
                    f"sentinel failover-timeout {name} {failover_timeout_ms}",
                    f"sentinel parallel-syncs {name} 1", ""]))
            return ["redis-sentinel", conf]
        return self._redis_proc("redis-sentinel", argv, timeout)

    def _redis_proc(self, what: str, argv, timeout: float) -> Redis:
        for _ in range(5):
            port = free_port()
            d = tempfile.mkdtemp(prefix=f"{what}-", dir=self.workdir)
            self._scratch.append(d)
            p = self.popen_in(None, argv(port, d), name=what)
            r = Redis(p, port)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and p.poll() is None:
                if r.ping():
                    return r
                time.sleep(0.05)
            p.stop()
            if "Address already in use" not in p.out_text():
                raise LabError(f"{what} did not start:\n" + _tail(p.stdout_path))
        raise LabError(f"{what}: no free port")

    # -- the forwarder ---------------------------------------------------------------------

    def fwd_config(self, fwd: int = 0, backends: Sequence[tuple[str, int]] = (), listen: Sequence[int] = (10080,),
                   admin_port: int | None = None, redis: "Redis | str | None" = None,
                   idle_timeout_ms: int = 5000, leg_ports: str = "20000-59999", extra: str = "",
                   srt_extra: Sequence[str] = (), port0_extra: Sequence[str] = (),
                   sentinels: "Sequence[Redis]" = (), master_name: str = "srs") -> str:
        """Minimal TOML (the README's minimal config) for forwarder fwd of this lab: port 0
        caller side, port 1 origin side with the origin ns as gateway; balancer
        "redis" when redis is given (or sentinels: the master named master_name),
        else "memory" with `backends`. srt_extra: more lines for the [srt] table,
        port0_extra for port 0's (vips = [...])."""
        f = self.forwarders[fwd]
        admin_port = admin_port or free_port()
        lines = ["[[port]]", f'ipv4 = "{f.fwd_ip}/{f.prefix_len}"']
        if f.caller_gateway:
            lines.append(f'gateway = "{f.caller_gateway}"')
        if port0_extra:
            lines += list(port0_extra)
        if f.fwd_ip6:
            lines.append(f'ipv6 = "{f.fwd_ip6}/64"')
        lines += ["", "[[port]]", f'ipv4 = "{f.fwd_origin_ip}/{f.prefix_len}"',
                  f'gateway = "{f.origin_gateway}"']
        if f.fwd_origin_ip6:
            lines += [f'ipv6 = "{f.fwd_origin_ip6}/64"', f'gateway6 = "{f.origin_ips6[0]}"']
        lines += ["", "[srt]", f"listen = [{', '.join(str(p) for p in listen)}]",
                  f'leg_ports = "{leg_ports}"', f"idle_timeout_ms = {idle_timeout_ms}", *srt_extra, "",
                  "[balancer]"]
        if sentinels:
            lines += ['type = "redis"', f'master_name = "{master_name}"',
                      "sentinels = [" + ", ".join(f'"{s.addr}"' for s in sentinels) + "]"]
        elif redis is not None:
            addr = redis.addr if isinstance(redis, Redis) else redis
            lines += ['type = "redis"', f'redis = "{addr}"']
        else:
            lines += ['type = "memory"']
        for ip, port in backends:
            lines += ["", "[[backend]]", f'ip = "{ip}"', f"srt = {port}"]
        lines += ["", "[admin]", f'listen = "127.0.0.1:{admin_port}"', ""]
        return "\n".join(lines) + extra

    def srtfwd(self, config_text: str, extra_args: Sequence[str] = (), lcores: str = "0-1",
               fwd: int = 0, binary: str | None = None, ready_timeout: float = 30,
               log_level: str = "debug", eal_args: Sequence[str] = (),
               env: dict | None = None, wait_ready: bool = True, qpairs: int = 1) -> Srtfwd:
        """Start srtfwd on forwarder fwd's two root-ns veth ends, wait for
        "srtfwd ready" in its log (stderr). Stopped (SIGTERM, wait, SIGKILL) when
        the lab closes; Srtfwd.stop() returns its exit status.

        lcores: an EAL core list for -l ("0-1": main lcore 0, one worker), or a
        map for --lcores when it has '@' or '(' ("0@0,1@1,2@1,3@0": four
        lcores on two CPUs). qpairs: the af_packet ports' queue pairs (the
        kernel spreads flows over all of them)."""
        binary = binary or self.srtfwd_bin
        if not binary:
            raise LabError("no srtfwd binary: pass binary= or set SRTFWD")
        f = self.forwarders[fwd]
        n = len(self.fwd_procs)
        cfg = os.path.join(self.workdir, f"srtfwd{fwd}-{n}.toml")
        with open(cfg, "w") as fh:
            fh.write(config_text)
        file_prefix = f"srtlab-{self.id}-f{fwd}-{n}"
        lcore_opt = "--lcores" if re.search(r"[@(]", lcores) else "-l"
        q = f",qpairs={qpairs}" if qpairs != 1 else ""
        argv = [binary, lcore_opt, lcores, "--no-huge", "-m", "1024", "--no-pci",
                f"--file-prefix={file_prefix}",
                "--vdev", f"net_af_packet0,iface={f.caller_host_if}{q}",
                "--vdev", f"net_af_packet1,iface={f.origin_host_if}{q}",
                *eal_args, "--", "--config", cfg, "--log-level", log_level, *extra_args]
        p = self._spawn(argv, f"srtfwd{fwd}", env)
        s = Srtfwd(p, f, cfg, file_prefix)
        self.fwd_procs.append(s)
        if wait_ready:
            s.wait_log(r"srtfwd ready", ready_timeout)
        return s


def _check_bench_addr(a: str) -> None:
    ip = a.split("/")[0]
    if ":" in ip:
        if ipaddress.IPv6Address(ip) not in ipaddress.IPv6Network("2001:2::/48"):
            raise ValueError(f"{a}: IPv6 test addresses must be in 2001:2::/48")
        return
    o = [int(x) for x in ip.split(".")]
    if not (o[0] == 198 and o[1] in (18, 19)):
        raise ValueError(f"{a}: test addresses must be in 198.18.0.0/15")


def _glob_dir(parent: str, head: str) -> list[str]:
    try:
        return [os.path.join(parent, d) for d in os.listdir(parent) if d.startswith(head)]
    except FileNotFoundError:
        return []


# ---- helpers the e2e tests share ----

# SRT handshakes built by hand, for callers that do what libsrt will not (a
# CONCLUSION to another host than the INDUCTION's, a forged field). Plain
# functions of the standard library: a script run in a namespace with
# /usr/bin/python3 -c imports them (sys.path gets this directory).

def srt_handshake(version: int, enc_ext: int, typ: int, cookie: int, sock: int, exts: bytes = b"",
                  isn: int = 12345, timestamp: int = 1000, dst: int = 0) -> bytes:
    """A handshake control packet (the SRT draft's layout), peer IP zero."""
    import struct
    body = struct.pack("!IIIIIIII", version, enc_ext, isn, 1500, 8192, typ, sock, cookie)
    return struct.pack("!IIII", 0x80000000, 0, timestamp, dst) + body + bytes(16) + exts


def srt_ext(t: int, contents: bytes) -> bytes:
    """A handshake extension block: type, length in 32-bit words, contents."""
    import struct
    return struct.pack("!HH", t, len(contents) // 4) + contents


def srt_sid(text: str) -> bytes:
    """A stream ID's extension contents: padded, each 32-bit word byte-reversed."""
    b = text.encode()
    b += bytes(-len(b) % 4)
    return b"".join(b[i:i + 4][::-1] for i in range(0, len(b), 4))


def binary(var: str) -> str:
    """The executable that environment variable var names (set by meson)."""
    path = os.environ.get(var)
    if not path or not os.access(path, os.X_OK):
        raise AssertionError(f"{var} must name an executable (got {path!r}); "
                             "run the test through `meson test -C build`, which sets it")
    return path


def tail(text: str, n: int = 40) -> str:
    return "\n".join(text.splitlines()[-n:])


def final_counters(log: str) -> dict:
    """The last 'final counters: {json}' line srtfwd logged at exit."""
    found = re.findall(r"final counters: (\{.*\})\s*$", log, re.M)
    if not found:
        raise AssertionError("no 'final counters' line in the srtfwd log:\n" + tail(log))
    return json.loads(found[-1])
