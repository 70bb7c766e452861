#!/usr/bin/env python3
"""Probe a scratch redis-server 7.0 for every config parameter: its default,
whether CONFIG SET may change it, and the error an invalid value gets."""
import json, subprocess, sys, socket, time, os, tempfile

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

port = free_port()
d = tempfile.mkdtemp()
srv = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", d, "--save", "", "--daemonize", "no"], stdout=subprocess.DEVNULL)
def cli(*args):
    r = subprocess.run(["redis-cli", "-p", str(port), "--no-raw"] + list(args), capture_output=True, text=True)
    return r.stdout.rstrip("\n")
for _ in range(100):
    if cli("PING") == "PONG": break
    time.sleep(0.05)
raw = subprocess.run(["redis-cli", "-p", str(port), "--raw", "CONFIG", "GET", "*"], capture_output=True, text=True).stdout.split("\n")
if raw and raw[-1] == "": raw = raw[:-1]
pairs = dict(zip(raw[0::2], raw[1::2]))
out = []
for name in sorted(pairs):
    val = pairs[name]
    same = cli("CONFIG", "SET", name, val)
    if name == "requirepass":
        bad = "OK"  # any string is a password; setting one would lock the probe out
    else:
        bad = cli("CONFIG", "SET", name, "not-a-valid-value!")
    if not bad.startswith("(error)"):
        cli("CONFIG", "SET", name, val)  # it took it: put the default back
    rec = {"name": name, "default": val, "set_same": same, "set_bad": bad}
    if "parsed into an integer" in bad or "memory value" in bad:
        for key, probe in (("set_max", "9223372036854775807"), ("set_min", "-9223372036854775807")):
            r = cli("CONFIG", "SET", name, probe)
            rec[key] = r
            if not r.startswith("(error)"):
                cli("CONFIG", "SET", name, val)
        if "memory value" in bad:
            r = cli("CONFIG", "SET", name, "0")
            rec["set_zero"] = r
            if not r.startswith("(error)"):
                cli("CONFIG", "SET", name, val)
        rec["get_after_1gb"] = ""
        if "memory value" in bad:
            r = cli("CONFIG", "SET", name, "1gb")
            rec["set_1gb"] = r
            rec["get_after_1gb"] = subprocess.run(["redis-cli", "-p", str(port), "--raw", "CONFIG", "GET", name], capture_output=True, text=True).stdout.split("\n")[1] if r == "OK" else ""
            cli("CONFIG", "SET", name, val)
    out.append(rec)
def getall():
    raw = subprocess.run(["redis-cli", "-p", str(port), "--raw", "CONFIG", "GET", "*"], capture_output=True, text=True).stdout.split("\n")
    if raw and raw[-1] == "": raw = raw[:-1]
    return dict(zip(raw[0::2], raw[1::2]))
base = getall()
for rec in out:
    name = rec["name"]
    if rec["set_same"] != "OK" or name in ("requirepass", "bind", "port", "dir", "logfile", "unixsocket"):
        continue
    b = rec["set_bad"]
    if "yes' or 'no'" in b:
        probe = "no" if rec["default"] == "yes" else "yes"
    elif "parsed into an integer" in b or "memory value" in b:
        probe = "7"
    else:
        continue
    if not cli("CONFIG", "SET", name, probe) == "OK":
        continue
    now = getall()
    rec["aliases"] = sorted(k for k in now if k != name and now[k] != base.get(k))
    cli("CONFIG", "SET", name, rec["default"])
srv.terminate(); srv.wait()
json.dump(out, sys.stdout, indent=1)
