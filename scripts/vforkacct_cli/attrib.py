# SPDX-License-Identifier: GPL-2.0
"""Who forked: a record's cgroup path and systemd unit (from its
cgroup_id) and user (from its uid).

cgroup_id is the parent's cgroup v2 id; on 64-bit kernels it is the inode
number of that cgroup's directory under the cgroup2 mount, so ids are
mapped to paths by walking the mount (<sys>/fs/cgroup, or its `unified`
directory on hybrid hosts), or from a map captured with

    find /sys/fs/cgroup -type d -printf '%i %P\\n' > cgroups

(--cgroup-map FILE: to read a log captured on another host).  Paths are
relative to the mount, that is to the reader's cgroup namespace root; the
root itself is `/`."""

import os
import pwd
import re

from .common import CliError, read_text, sys_path

UNKNOWN = "(unknown)"          # no id in the record (an old capture, or 0)
UNIT_SUFFIXES = (".service", ".scope", ".slice", ".socket", ".mount", ".swap")
_CONTAINER_SCOPE = re.compile(r"^(?P<runtime>.+)-(?P<id>[0-9a-f]{64})\.scope$")
_CONTAINER_ID = re.compile(r"^[0-9a-f]{64}$")


def unit_of(path):
    """The systemd unit a cgroup path belongs to: its last component
    named like a unit (`system.slice/nginx.service` -> `nginx.service`,
    `user.slice/user-1000.slice/session-3.scope` -> `session-3.scope`);
    containers by runtime and short id (`system.slice/docker-<64 hex>.scope`
    -> `docker-<12 hex>`, `docker/<64 hex>` -> `docker-<12 hex>`, also
    for the units a container runs inside).  A path with no such
    component is its own unit (`/` for the root)."""
    if not path or path == "/":
        return "/"
    parts = path.split("/")
    # A container first: units inside it (its own init.scope, ...) are
    # the container's.
    for i in range(len(parts) - 1, -1, -1):
        m = _CONTAINER_SCOPE.match(parts[i])
        if m:
            return "%s-%s" % (m.group("runtime"), m.group("id")[:12])
        if i > 0 and _CONTAINER_ID.match(parts[i]):
            return "%s-%s" % (parts[0], parts[i][:12])
    for p in reversed(parts):
        if p.endswith(UNIT_SUFFIXES):
            return p
    return path


def cgroup2_root():
    """The cgroup2 mount under the sys root, or None."""
    base = sys_path("fs", "cgroup")
    for d in (base, os.path.join(base, "unified")):
        if os.path.isfile(os.path.join(d, "cgroup.controllers")):
            return d
    return None


def walk_cgroups(root):
    """{inode: path relative to root} for every directory under root."""
    ids = {}
    try:
        ids[os.stat(root).st_ino] = "/"
    except OSError:
        return ids
    stack = [(root, "")]
    while stack:
        d, rel = stack.pop()
        try:
            it = os.scandir(d)
        except OSError:
            continue                # removed meanwhile, or unreadable
        with it:
            for e in it:
                try:
                    if not e.is_dir(follow_symlinks=False):
                        continue
                    ino = e.stat(follow_symlinks=False).st_ino
                except OSError:
                    continue
                p = rel + "/" + e.name if rel else e.name
                ids[ino] = p
                stack.append((e.path, p))
    return ids


def read_cgroup_map(path):
    """A captured map: `INODE PATH` per line (PATH relative to the mount,
    empty for the root); `#` comments."""
    ids = {}
    for n, line in enumerate(read_text(path).splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.strip().split(None, 1)
        if not re.match(r"^\d+$", parts[0]):
            raise CliError("%s line %d: want `INODE PATH` (as `find "
                           "/sys/fs/cgroup -type d -printf '%%i %%P\\n'` "
                           "prints)" % (path, n))
        rel = parts[1].strip("/") if len(parts) > 1 else ""
        ids[int(parts[0])] = rel or "/"
    return ids


class Attribution:
    """Labels for a record's cgroup_id and uid, resolved lazily (the cgroup
    tree is walked on first use)."""

    def __init__(self, cgroup_map=None):
        self.map_file = cgroup_map
        self.ids = None
        self.root = None
        self.users = {}

    def _load(self):
        if self.map_file is not None:
            self.ids = read_cgroup_map(self.map_file)
            return
        self.root = cgroup2_root()
        self.ids = walk_cgroups(self.root) if self.root else {}

    def refresh(self):
        """Walks the tree again (cgroups come and go); not for a map file."""
        if self.map_file is None:
            self.ids = None

    @property
    def source(self):
        """Where paths come from, for notes: the map file, the mount, or
        None when there is no cgroup2 mount."""
        if self.ids is None:
            self._load()
        return self.map_file or self.root

    def cgroup_path(self, cid):
        """The path of a cgroup id, or None (no id, or not found)."""
        if not cid:
            return None
        if self.ids is None:
            self._load()
        return self.ids.get(cid)

    def cgroup_label(self, cid):
        if not cid:
            return UNKNOWN
        p = self.cgroup_path(cid)
        return p if p is not None else "cgroup:%d" % cid

    def unit_label(self, cid):
        if not cid:
            return UNKNOWN
        p = self.cgroup_path(cid)
        return unit_of(p) if p is not None else "cgroup:%d" % cid

    def user_label(self, uid):
        """The user name of a uid, else the number; `-` when unknown."""
        if uid is None:
            return UNKNOWN
        name = self.users.get(uid)
        if name is None:
            try:
                name = pwd.getpwuid(uid).pw_name
            except (KeyError, OverflowError):
                name = str(uid)
            self.users[uid] = name
        return name

    def in_cgroup(self, cid, want):
        """True when cgroup id cid is the cgroup `want` (a path relative to
        the mount) or below it."""
        p = self.cgroup_path(cid)
        if p is None:
            return want == self.cgroup_label(cid)
        want = want.strip("/") or "/"
        return want == "/" or p == want or p.startswith(want + "/")
