"""The driver of scripts/bench-sync.sh: presign-stack's website sync and bucket emptying against
peers (aws s3, s5cmd, rclone), in one run, against one local S3 (bench-s3) that injects a fixed
latency per request. Prints two Markdown tables. Knobs are environment variables (see
scripts/bench-sync.sh); tool paths come as arguments.
"""

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

MB = 1024 * 1024
# Seconds between making the copy and syncing it in (b), untimed. presign-stack does not trust
# a digest it read within a second of the file's last change (two for whole-second timestamps:
# the racy window of its digest cache), so a copy synced the moment it is made would be read
# whole again in (c); a real checkout is older than that.
COPY_AGE = 2


def env_int(name, default):
    value = os.environ.get(name, "")
    if value == "":
        return default
    try:
        return int(value.replace("_", "").replace(",", ""))
    except ValueError:
        sys.exit(f"bench: {name}={value!r} is not a whole number")


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


# --- the site ---------------------------------------------------------------------------------

# (share of the small files, folder pattern, extensions): mostly small web assets.
LAYOUT = [
    (0.10, "docs/{section}", ["html"]),
    (0.05, "assets/css", ["css"]),
    (0.15, "assets/js/{section}", ["js", "mjs"]),
    (0.02, "assets/fonts", ["woff2"]),
    (0.60, "img/{year}/{nn}", ["png", "jpg", "webp", "svg"]),
    (0.08, "data", ["json"]),
]
SECTIONS = ["guide", "api", "blog", "news", "help", "about"]


def build_site(root, files, large_mb, seed):
    """Write `files` files under `root`, deterministically from `seed`: the large ones
    (`large_mb`, sizes in MB) under media/, the rest 1-200 KB (log-uniform) in nested
    folders. Returns (total bytes, the relative path of one small file to change)."""
    rng = random.Random(seed)
    os.makedirs(root)
    total = 0

    def write(rel, size):
        nonlocal total
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            left = size
            while left > 0:
                n = min(left, 8 * MB)
                f.write(rng.randbytes(n))
                left -= n
        total += size

    small = max(files - len(large_mb), 0)
    write("index.html", int(1024 * 200 ** rng.random()))
    write("404.html", 2048)
    made = 2
    changed = None
    weights = [w for w, _, _ in LAYOUT]
    while made < small:
        _, pattern, exts = rng.choices(LAYOUT, weights)[0]
        folder = pattern.format(
            section=rng.choice(SECTIONS), year=rng.randrange(2019, 2026), nn=f"{rng.randrange(12):02d}"
        )
        rel = f"{folder}/file-{made:05d}.{rng.choice(exts)}"
        write(rel, int(1024 * 200 ** rng.random()))  # 1 KB to 200 KB, log-uniform
        if changed is None and rel.endswith(".css"):
            changed = rel
        made += 1
    for i, mb in enumerate(large_mb):
        write(f"media/large-{i + 1}.bin", mb * MB)
    return total, changed or "index.html"


def change_one_file(root, rel, seed):
    """Rewrite `rel` with other bytes, one byte longer (every tool sees that: size, mtime,
    content)."""
    path = os.path.join(root, rel)
    size = os.path.getsize(path)
    with open(path, "wb") as f:
        f.write(random.Random(seed + 1).randbytes(size + 1))


# --- the local S3 -----------------------------------------------------------------------------


class Server:
    def __init__(self, binary, latency_ms, cpus, workdir):
        port_file = os.path.join(workdir, "s3.port")
        self.log_path = os.path.join(workdir, "bench-s3.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [binary, "--port", "0", "--port-file", port_file, "--latency-ms", str(latency_ms)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
        )
        for _ in range(200):
            if os.path.exists(port_file):
                break
            if self.proc.poll() is not None:
                sys.exit(f"bench: bench-s3 exited at start; see {self.log_path}")
            time.sleep(0.05)
        else:
            sys.exit(f"bench: bench-s3 did not start; see {self.log_path}")
        self.url = f"http://127.0.0.1:{open(port_file).read().strip()}"

    def call(self, method, path):
        req = urllib.request.Request(self.url + path, method=method, data=b"" if method == "POST" else None)
        with urllib.request.urlopen(req, timeout=60) as res:
            return json.loads(res.read())

    def cpu_seconds(self):
        """User + system CPU time the server has used so far."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


# --- running a tool ---------------------------------------------------------------------------


def run_one(cmd, env, cpus, timeout, workdir):
    """Run one command; wall-clock seconds from process start to exit, its peak RSS (KiB,
    from wait4: the largest of it and the children it waited for), exit code, output."""
    out_path, err_path = os.path.join(workdir, "tool.out"), os.path.join(workdir, "tool.err")
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            cmd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
        )
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        timer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    with open(out_path, errors="replace") as f:
        stdout = f.read()
    with open(err_path, errors="replace") as f:
        stderr = f.read()
    return seconds, usage.ru_maxrss, proc.returncode, stdout, stderr


def run(cmds, env, cpus, server, timeout, workdir):
    """Run `cmds` one after the other, stopping at a failure, with the server's request
    counts reset first. Returns the seconds (summed), peak RSS, the server's CPU seconds
    meanwhile, its request counts, the last stdout and an error or None."""
    server.call("POST", "/_bench/reset")
    cpu0 = server.cpu_seconds()
    seconds, rss, error, stdout = 0.0, 0, None, ""
    for cmd in cmds:
        took, peak, code, stdout, stderr = run_one(cmd, env, cpus, timeout, workdir)
        seconds += took
        rss = max(rss, peak)
        if code != 0:
            tail = (stderr or stdout).strip().splitlines()[-3:]
            why = f"killed after {timeout} s" if took >= timeout else f"exit {code}"
            error = f"{os.path.basename(cmd[0])}: {why}: " + " | ".join(tail)
            break
    return {
        "seconds": seconds,
        "rss_kib": rss,
        "server_cpu": server.cpu_seconds() - cpu0,
        "stats": server.call("GET", "/_bench/stats"),
        "error": error,
        "stdout": stdout,
    }


# --- the tools --------------------------------------------------------------------------------


def tools(args, url, s5cmd_all_versions, workdir):
    """Each tool: its row label, the commands for a sync of a folder into a bucket, and those
    that empty (and, where the tool can, delete) a versioned bucket, or None. presign-stack's
    spec folder, which holds its digest cache, is one per bucket, kept across the scenarios as
    a project folder is."""
    out = [
        {
            "slug": "presign-stack",
            "sync_label": "presign-stack",
            "empty_label": "presign-stack (down's emptying)",
            "sync": lambda d, b: [
                [args.presign_stack, "sync", "--endpoint-url", url, "--bucket", b, "--source", d,
                 "--project", os.path.join(workdir, f"project-{b}")]
            ],
            "empty": lambda b: [[args.presign_stack, "empty", "--endpoint-url", url, "--bucket", b]],
        },
        {
            "slug": "aws",
            "sync_label": "aws s3 sync --delete",
            "empty_label": "aws s3 rm --recursive",
            "sync": lambda d, b: [[args.aws, "s3", "sync", d, f"s3://{b}", "--delete", "--only-show-errors", "--endpoint-url", url]],
            "empty": lambda b: [[args.aws, "s3", "rm", "--recursive", f"s3://{b}", "--only-show-errors", "--endpoint-url", url]],
        },
        {
            "slug": "s5cmd",
            "sync_label": "s5cmd sync --delete",
            "empty_label": "s5cmd rm --all-versions, rb",
            "sync": lambda d, b: [[args.s5cmd, "--endpoint-url", url, "--log", "error", "sync", "--delete", d + "/", f"s3://{b}/"]],
            "empty": (
                lambda b: [
                    [args.s5cmd, "--endpoint-url", url, "--log", "error", "rm", "--all-versions", f"s3://{b}/*"],
                    [args.s5cmd, "--endpoint-url", url, "--log", "error", "rb", f"s3://{b}"],
                ]
            )
            if s5cmd_all_versions
            else None,
        },
    ]
    if args.rclone:
        purge = os.environ.get("BENCH_RCLONE_PURGE", "0") == "1"
        out.append(
            {
                "slug": "rclone",
                "sync_label": "rclone sync",
                "empty_label": "rclone purge",
                "sync": lambda d, b: [[args.rclone, "sync", d, f"bench:{b}", "-q"]],
                "empty": (lambda b: [[args.rclone, "purge", f"bench:{b}", "-q"]]) if purge else None,
            }
        )
    wanted = os.environ.get("BENCH_TOOLS", "")
    if wanted:
        names = {w.strip() for w in wanted.split(",") if w.strip()}
        unknown = names - {t["slug"] for t in out} - {"rclone"}
        if unknown:
            sys.exit(f"bench: BENCH_TOOLS names unknown tools: {', '.join(sorted(unknown))}")
        out = [t for t in out if t["slug"] in names or t["slug"] == "presign-stack"]
    return out


def tool_env(workdir, url, region):
    """The tools' environment: dummy credentials, the region, no profile, config or CA bundle
    of the machine's (so every tool runs with its defaults), rclone's remote `bench:`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "RCLONE_"))}
    env.update(
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_REGION=region,
        AWS_DEFAULT_REGION=region,
        AWS_EC2_METADATA_DISABLED="true",
        AWS_CONFIG_FILE=os.path.join(workdir, "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=os.path.join(workdir, "no-aws-credentials"),
        RCLONE_CONFIG=os.devnull,
        RCLONE_CONFIG_BENCH_TYPE="s3",
        RCLONE_CONFIG_BENCH_PROVIDER="Other",
        RCLONE_CONFIG_BENCH_ENDPOINT=url,
        RCLONE_CONFIG_BENCH_ACCESS_KEY_ID="test",
        RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY="test",
        RCLONE_CONFIG_BENCH_REGION=region,
    )
    return env


def version_of(cmd, env):
    try:
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
        text = (p.stdout or p.stderr).strip().splitlines()
        return text[0] if text else "?"
    except OSError:
        return "?"


# --- tables -----------------------------------------------------------------------------------


def table(headers, rows, right):
    """A Markdown table, columns padded; `right` holds the indexes of right-aligned ones."""
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]

    def line(cells):
        out = []
        for i, (c, w) in enumerate(zip(cells, widths)):
            out.append(str(c).rjust(w) if i in right else str(c).ljust(w))
        return "| " + " | ".join(out) + " |"

    rule = "|" + "|".join(("-" * (w + 1) + ":") if i in right else ("-" * (w + 2)) for i, w in enumerate(widths)) + "|"
    return "\n".join([line(headers), rule] + [line(r) for r in rows])


def secs(s):
    return f"{s:.2f} s" if s < 10 else f"{s:.1f} s"


def ratio(s, base):
    if base is None or base <= 0:
        return "n/a"
    r = s / base
    return f"{r:.2f}x" if r < 1 else f"{r:.1f}x"


def size(n):
    if n == 0:
        return "0"
    if n < MB:
        return f"{n / 1024:,.0f} KiB"
    return f"{n / MB:,.1f} MiB"


def median_run(runs):
    """The run of median time (the lower middle one for an even count)."""
    ok = sorted((r for r in runs if not r["error"]), key=lambda r: r["seconds"])
    if not ok:
        return runs[-1]
    return ok[(len(ok) - 1) // 2]


def top_operations(stats, n=3):
    ops = sorted(stats["operations"].items(), key=lambda kv: (-kv[1], kv[0]))
    return ", ".join(f"{op} {count:,}" for op, count in ops[:n]) or "-"


def left_behind(state):
    if not state["exists"]:
        return "nothing (bucket deleted)"
    parts = [f"{state['versions']:,} versions", f"{state['delete_markers']:,} delete markers"]
    if state["keys"]:
        parts.insert(0, f"{state['keys']:,} current objects")
    return ", ".join(parts) + "; bucket kept"


# --- main -------------------------------------------------------------------------------------


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--server", required=True)
    p.add_argument("--presign-stack", required=True)
    p.add_argument("--presign-stack-version", default="?")
    p.add_argument("--aws", required=True)
    p.add_argument("--s5cmd", required=True)
    p.add_argument("--rclone", default="")
    p.add_argument("--note", action="append", default=[])
    args = p.parse_args()

    files = env_int("BENCH_FILES", 3000)
    large_mb = [int(x) for x in os.environ.get("BENCH_LARGE_MB", "64,96").replace(" ", "").split(",") if x]
    seed = env_int("BENCH_SEED", 1)
    repeat = max(env_int("BENCH_REPEAT", 1), 1)
    latency = env_int("BENCH_LATENCY_MS", 20)
    total_versions = env_int("BENCH_VERSIONS", 100_000)
    per_key = max(env_int("BENCH_VERSIONS_PER_KEY", 2), 1)
    timeout = env_int("BENCH_TIMEOUT", 1800)
    region = os.environ.get("BENCH_REGION", "eu-central-1")
    if files < 3 + len(large_mb):
        sys.exit(f"bench: BENCH_FILES must be at least {3 + len(large_mb)}")

    cores = sorted(os.sched_getaffinity(0))
    pin = os.environ.get("BENCH_PIN", "1") != "0" and len(cores) >= 2
    server_cpus = {cores[-1]} if pin else None
    tool_cpus = set(cores[:-1]) if pin else None

    load_at_start = " ".join(open("/proc/loadavg").read().split()[:3])
    workdir = tempfile.mkdtemp(prefix="bench-sync-", dir=os.environ.get("BENCH_TMPDIR") or None)
    server = None
    try:
        site = os.path.join(workdir, "site")
        log(f"building the site: {files:,} files, large ones {large_mb} MB, seed {seed}")
        site_bytes, changed = build_site(site, files, large_mb, seed)
        server = Server(args.server, latency, server_cpus, workdir)
        env = tool_env(workdir, server.url, region)
        s5cmd_help = subprocess.run([args.s5cmd, "rm", "--help"], env=env, capture_output=True, text=True).stdout
        s5cmd_all_versions = "--all-versions" in s5cmd_help
        the_tools = tools(args, server.url, s5cmd_all_versions, workdir)
        versions = {
            "presign-stack": args.presign_stack_version,
            "aws": " ".join(
                w for w in version_of([args.aws, "--version"], env).split() if w.startswith(("aws-cli/", "botocore/"))
            ),
            "s5cmd": "s5cmd " + version_of([args.s5cmd, "version"], env),
        }
        if args.rclone:
            versions["rclone"] = version_of([args.rclone, "version"], env)

        # Website sync: three scenarios per tool, each tool into its own fresh bucket.
        scenarios = [
            ("cold", "(a) cold: empty bucket"),
            ("resync", "(b) same bytes, new mtimes"),
            ("changed", "(c) one file changed"),
        ]
        results = {}
        problems = []
        for rep in range(repeat):
            for t in the_tools:
                bucket = f"sync-{t['slug']}-{rep}"
                server.call("POST", f"/_bench/create?bucket={bucket}")
                copy = os.path.join(workdir, f"copy-{t['slug']}")
                for key, _ in scenarios:
                    if key == "resync":
                        subprocess.run(["cp", "-r", site, copy], check=True)
                        time.sleep(COPY_AGE)
                    if key == "changed":
                        change_one_file(copy, changed, seed)
                    folder = site if key == "cold" else copy
                    log(f"sync {key}: {t['sync_label']} (run {rep + 1} of {repeat})")
                    r = run(t["sync"](folder, bucket), env, tool_cpus, server, timeout, workdir)
                    state = server.call("GET", f"/_bench/bucket?bucket={bucket}")
                    if not r["error"] and state.get("keys") != files:
                        r["error"] = f"the bucket holds {state.get('keys')} objects, not {files}"
                    if r["error"]:
                        problems.append(f"{t['sync_label']}, {key}: {r['error']}")
                    results.setdefault((key, t["slug"]), []).append(r)
                shutil.rmtree(copy, ignore_errors=True)

        # Emptying a versioned bucket.
        keys = max(total_versions // per_key, 1)
        emptied = {}
        for rep in range(repeat):
            for t in the_tools:
                if t["empty"] is None:
                    continue
                bucket = f"empty-{t['slug']}-{rep}"
                server.call("POST", f"/_bench/seed?bucket={bucket}&keys={keys}&versions={per_key}")
                log(f"empty: {t['empty_label']} (run {rep + 1} of {repeat})")
                r = run(t["empty"](bucket), env, tool_cpus, server, timeout, workdir)
                r["left"] = left_behind(server.call("GET", f"/_bench/bucket?bucket={bucket}"))
                if r["error"]:
                    problems.append(f"{t['empty_label']}: {r['error']}")
                emptied.setdefault(t["slug"], []).append(r)
    finally:
        if server:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    # The tables.
    runs = "one run each" if repeat == 1 else f"median of {repeat} runs each"
    print(
        f"## Website sync: {files:,} files, {site_bytes / MB:,.1f} MiB "
        f"({len(large_mb)} large: {', '.join(f'{m} MiB' for m in large_mb) or 'none'}); {runs}\n"
    )
    rows = []
    for key, label in scenarios:
        base = median_run(results[(key, "presign-stack")])
        base_s = None if base["error"] else base["seconds"]
        for t in the_tools:
            r = median_run(results[(key, t["slug"])])
            failed = bool(r["error"])
            rows.append(
                [
                    label,
                    t["sync_label"],
                    "failed" if failed else secs(r["seconds"]),
                    "-" if failed else ratio(r["seconds"], base_s),
                    f"{r['stats']['requests']:,}",
                    f"{r['stats']['methods'].get('PUT', 0):,}",
                    size(r["stats"].get("bytes_uploaded", 0)),
                    f"{r['rss_kib'] / 1024:,.0f} MiB",
                    secs(r["server_cpu"]),
                ]
            )
    print(
        table(
            ["scenario", "tool", "time", "vs presign-stack", "requests", "PUTs", "uploaded", "peak RSS", "S3 CPU"],
            rows,
            right={2, 3, 4, 5, 6, 7, 8},
        )
    )
    print()
    print(
        f"## Emptying a versioned bucket: {keys * per_key:,} versions "
        f"({keys:,} keys x {per_key}); {runs}\n"
    )
    rows = []
    base = median_run(emptied["presign-stack"])
    base_s = None if base["error"] else base["seconds"]
    for t in the_tools:
        if t["slug"] not in emptied:
            continue
        r = median_run(emptied[t["slug"]])
        failed = bool(r["error"])
        rows.append(
            [
                t["empty_label"],
                "failed" if failed else secs(r["seconds"]),
                "-" if failed else ratio(r["seconds"], base_s),
                f"{r['stats']['requests']:,}",
                top_operations(r["stats"]),
                f"{r['rss_kib'] / 1024:,.0f} MiB",
                secs(r["server_cpu"]),
                r["left"],
            ]
        )
    print(
        table(
            ["tool", "time", "vs presign-stack", "requests", "most frequent", "peak RSS", "S3 CPU", "left behind"],
            rows,
            right={1, 2, 3, 5, 6},
        )
    )
    print()
    notes = [
        f"Local S3: bench-s3, {latency} ms injected per request, "
        + (f"pinned to core {cores[-1]}, tools to core(s) {','.join(map(str, cores[:-1]))}" if pin else "not pinned")
        + f"; machine: {len(cores)} cores, load average {load_at_start} at the start, "
        + f"{' '.join(open('/proc/loadavg').read().split()[:3])} at the end.",
        "vs presign-stack: the tool's time over presign-stack's (above 1x: slower than presign-stack). "
        "Time: wall clock from process start to exit. Requests, PUTs (PutObject, UploadPart, "
        "CopyObject) and uploaded (object bytes received): as the S3 counted them. "
        "S3 CPU: the server's CPU time during the run.",
        "Versions: " + "; ".join(versions.values()) + ".",
        f"(b) syncs its copy {COPY_AGE} s after making it, untimed: presign-stack trusts no digest it read "
        "within a second of the file's last change, and a checkout is older than that.",
    ]
    if not s5cmd_all_versions:
        notes.append("s5cmd has no rm --all-versions here: left out of the emptying table.")
    if not args.rclone:
        notes.append("rclone is not installed: left out.")
    elif os.environ.get("BENCH_RCLONE_PURGE", "0") != "1":
        notes.append("rclone purge (one DeleteObject per version) is left out of the emptying table; BENCH_RCLONE_PURGE=1 adds it.")
    notes += args.note
    for n in notes:
        print(f"- {n}")
    if problems:
        print("\nProblems:")
        for pr in problems:
            print(f"- {pr}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
