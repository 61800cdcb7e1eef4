"""The stage graph and the state every instruction runs in.

Computed in one forward pass over the file:

* **stages**: each stage's base after ARG expansion, the earlier stage it is
  built FROM (if any), its ancestry, the stages it copies or mounts from, the
  external image at the root of its chain, and whether the final image needs
  it (the default build target's closure);
* **state** before each instruction: the variables in effect (:class:`Env`:
  the base image's ENV, ENV lines, ARGs in scope), the USER with uid, gid and
  home, the WORKDIR (absolute; None when it depends on something unknown),
  the SHELL, and the accounts known to exist at that point.

A stage built FROM an earlier stage starts from that stage's final ENV, USER,
WORKDIR and SHELL (its ARGs do not carry over), exactly as BuildKit does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from dockeropt.model.images import Account, BaseImage, base_image
from dockeropt.model.mounts import mounts_of
from dockeropt.model.users import ROOT, User, accounts_created, resolve_user
from dockeropt.model.values import Env, Var, expand, join_path, read_assignments
from dockeropt.shell import analysis_script
from dockeropt.syntax import Dockerfile, Instruction, Stage

DEFAULT_SHELL = ("/bin/sh", "-c")
_MAY_CREATE_ACCOUNTS = re.compile(r"(user|group)add|add(user|group)")
_new_object = object.__new__


@dataclass(frozen=True)
class State:
    """What is in effect when one instruction runs (before its own effect)."""

    env: Env
    user: User
    workdir: str | None  # absolute; None: depends on something unknown
    shell: tuple[str, ...]
    accounts: dict[str, Account]  # accounts known to exist (base image + created so far)
    # identifies the state across rebuilds of the model for what a RUN is classified with: the same key means
    # the same env, user and workdir (a hash of the FROM chain's content and of every instruction's content
    # that changed one of them; shell and accounts are not part of it)
    key: int = 0

    @classmethod
    def _make(cls, env: Env, user: User, workdir: str | None, shell: tuple[str, ...], accounts: dict[str, Account],
              key: int = 0) -> State:
        """``State(...)`` without the frozen __init__'s six object.__setattr__ calls (build_states makes one per
        ENV/ARG/WORKDIR/USER line, every round)."""
        new = _new_object(cls)
        new.__dict__.update(env=env, user=user, workdir=workdir, shell=shell, accounts=accounts, key=key)
        return new

    @property
    def home(self) -> str | None:
        """``$HOME`` for a RUN: an ENV HOME wins, else the user's home."""
        if "HOME" in self.env:
            return self.env.value("HOME")
        return self.user.home


@dataclass(frozen=True)
class StageNode:
    """One stage and its place in the graph."""

    index: int
    name: str | None
    stage: Stage
    base_text: str  # FROM's image argument as written
    base: str | None  # after ARG expansion (None: depends on an unknown build argument)
    parent: int | None  # the earlier stage this one is built FROM
    root: int  # the first stage of the FROM chain (itself when built on an image)
    image: BaseImage | None  # the external image at the root of the chain (None: unknown)
    ancestors: tuple[int, ...]  # nearest first
    children: tuple[int, ...] = ()  # stages built FROM this one (direct)
    copies_from: tuple[int, ...] = ()  # stages this one copies or mounts from (COPY --from, RUN --mount from=)
    copies_from_images: tuple[str, ...] = ()  # external images named in COPY --from
    needed: bool = True  # the final image's build needs this stage (default target)
    platform: str | None = None

    @property
    def label(self) -> str:
        return self.name if self.name else str(self.index)


@dataclass(frozen=True)
class StageGraph:
    nodes: tuple[StageNode, ...]
    global_args: Env = field(default_factory=Env)

    @property
    def final(self) -> StageNode | None:
        return self.nodes[-1] if self.nodes else None

    def __getitem__(self, index: int) -> StageNode:
        return self.nodes[index]

    def __len__(self) -> int:
        return len(self.nodes)

    def family(self, index: int) -> list[int]:
        """The stage, its ancestors and everything built FROM it (directly or not), in file order."""
        out = {index, *self.nodes[index].ancestors}
        out.update(self.descendants(index))
        return sorted(out)

    def descendants(self, index: int) -> list[int]:
        out: list[int] = []
        todo = list(self.nodes[index].children)
        while todo:
            i = todo.pop()
            if i not in out:
                out.append(i)
                todo.extend(self.nodes[i].children)
        return sorted(out)

    def by_name(self, ref: str) -> StageNode | None:
        low = ref.lower()
        for n in self.nodes:
            if n.name is not None and n.name.lower() == low:
                return n
        if ref.isdigit() and int(ref) < len(self.nodes):
            return self.nodes[int(ref)]
        return None



def _stage_ref(doc: Dockerfile, ref: str, before: int) -> int | None:
    st = doc.stage_named(ref)
    if st is not None and st.index < before:
        return st.index
    return None


def build_states(doc: Dockerfile) -> tuple[StageGraph, dict[int, State]]:
    """The stage graph and the state before every instruction of every stage (by instruction index)."""
    # global ARGs (before the first FROM): visible to FROM lines and to stages that re-declare them
    global_vars: dict[str, Var] = {}
    for ins in doc.preamble:
        if ins.keyword != "ARG":
            continue
        for a in read_assignments(ins) or []:
            value = None if a.raw is None else expand(a.raw, {k: v.value for k, v in global_vars.items()})
            global_vars[a.name] = Var(value, "arg", ins.index, True)
    global_env = Env(global_vars)
    global_key = hash(tuple(i.args for i in doc.preamble if i.keyword == "ARG"))

    nodes: list[StageNode] = []
    finals: list[State] = []  # each stage's state after its last instruction
    states: dict[int, State] = {}
    children: dict[int, list[int]] = {}
    for stage in doc.stages:
        base = expand(stage.base, global_env) if "$" in stage.base else stage.base
        parent = _stage_ref(doc, base, stage.index) if base is not None else None
        if parent is not None:
            pn = nodes[parent]
            root, image, ancestors = pn.root, pn.image, (parent, *pn.ancestors)
            pstate = finals[parent]
            env = pstate.env.without({k for k, v in pstate.env.items() if v.origin == "arg"})
            state = State(env, pstate.user, pstate.workdir, pstate.shell, pstate.accounts, hash(("stage", pstate.key)))
            children.setdefault(parent, []).append(stage.index)
        else:
            root, ancestors = stage.index, ()
            image = base_image(base) if base is not None else None
            if image is None:
                state = State(Env(base_known=False), User(None, None, None, None, None), None, DEFAULT_SHELL, {})
            else:
                env = Env({k: Var(v, "image") for k, v in image.env.items()}, base_known=image.env_known)
                accounts = dict(image.accounts)
                user = resolve_user(None, accounts, image.default_user)
                shell = DEFAULT_SHELL if image.has_shell is not False else ()
                state = State(env, user, image.workdir, shell, accounts)
        if parent is None:
            # what the image brings, not its name: node:20 and node:20-slim start RUNs in the same state
            content = (image.env_known, tuple(sorted(image.env.items())), image.default_user, image.workdir,
                       tuple(sorted((a.name, a.uid, a.gid, a.home) for a in image.accounts.values())),
                       image.has_shell) if image is not None else ("unknown", base)
            state = State._make(state.env, state.user, state.workdir, state.shell, state.accounts,
                                key=hash(("image", content, global_key)))
        stage_args: set[str] = set()
        copies: list[int] = []
        copy_images: list[str] = []
        for ins in stage.instructions:
            states[ins.index] = state
            after = _apply(doc, ins, state, global_env, stage_args, copies, copy_images)
            if after is not state:
                # content, not position: a line inserted above does not make every later state new; and only what
                # RUNs are classified with (env, user, workdir): a RUN that creates an account or a SHELL line
                # keeps the key. ``after`` is new (made by _apply), so its key is set in place
                if after.env is not state.env or after.user != state.user or after.workdir != state.workdir:
                    object.__setattr__(after, "key", hash((state.key, ins.keyword, ins.args)))
                else:
                    object.__setattr__(after, "key", state.key)
            state = after
        finals.append(state)
        plat = stage.platform
        nodes.append(StageNode(
            stage.index, stage.name, stage, stage.base, base, parent, root, image, ancestors,
            copies_from=tuple(dict.fromkeys(copies)), copies_from_images=tuple(dict.fromkeys(copy_images)), platform=plat,
        ))
    # children and the final image's closure
    needed: set[int] = set()
    if nodes:
        todo = [len(nodes) - 1]
        while todo:
            i = todo.pop()
            if i in needed:
                continue
            needed.add(i)
            n = nodes[i]
            if n.parent is not None:
                todo.append(n.parent)
            todo.extend(n.copies_from)
    out = tuple(_with_links(n, tuple(children.get(n.index, ())), n.index in needed) for n in nodes)
    return StageGraph(out, global_env), states


def _with_links(n: StageNode, children: tuple[int, ...], needed: bool) -> StageNode:
    """``replace(n, children=..., needed=...)`` by copying the fields (dataclasses.replace re-runs __init__)."""
    new = _new_object(StageNode)
    fields = new.__dict__
    fields.update(n.__dict__)
    fields["children"] = children
    fields["needed"] = needed
    return new


def _apply(
    doc: Dockerfile,
    ins: Instruction,
    state: State,
    global_env: Env,
    stage_args: set[str],
    copies: list[int],
    copy_images: list[str],
) -> State:
    """The state after ``ins``."""
    kw = ins.keyword
    env = state.env
    if kw == "ENV":
        pairs = read_assignments(ins)
        if pairs is None:
            return State._make(env.with_vars({}, unreadable=ins.index), state.user, state.workdir, state.shell, state.accounts)
        updates: dict[str, Var] = {}
        for a in pairs:
            # each assignment sees the values before this ENV line (BuildKit expands against the previous env)
            value = expand(a.raw or "", env)
            updates[a.name] = Var(value, "env", ins.index)
        return State._make(env.with_vars(updates), state.user, state.workdir, state.shell, state.accounts)
    if kw == "ARG":
        pairs = read_assignments(ins)
        if pairs is None:
            return State._make(env.with_vars({}, unreadable=ins.index), state.user, state.workdir, state.shell, state.accounts)
        arg_updates: dict[str, Var] = {}
        for a in pairs:
            stage_args.add(a.name)
            current = env.get(a.name)
            if current is not None and current.origin in ("env", "image"):
                continue  # an ENV of the same name always wins
            if a.raw is None:
                g = global_env.get(a.name)
                value = g.value if g is not None else None
            else:
                value = expand(a.raw, env)
            arg_updates[a.name] = Var(value, "arg", ins.index, True)
        return State._make(env.with_vars(arg_updates), state.user, state.workdir, state.shell, state.accounts)
    if kw == "WORKDIR":
        arg = ins.args.strip()
        path = expand(arg, env) if arg else None
        wd = join_path(state.workdir, path) if path else (state.workdir if not arg else None)
        return State._make(env, state.user, wd, state.shell, state.accounts)
    if kw == "USER":
        spec = expand(ins.args.strip(), env)
        user = resolve_user(spec if spec is not None else ins.args.strip(), state.accounts, None)
        return State._make(env, user, state.workdir, state.shell, state.accounts)
    if kw == "SHELL":
        shell = ins.exec_args if ins.exec_args else state.shell
        return State._make(env, state.user, state.workdir, tuple(shell), state.accounts)
    if kw in ("COPY", "ADD"):
        frm = ins.flag("from")
        if frm is not None and frm.value:
            ref = expand(frm.value, env) or frm.value
            src = _stage_ref(doc, ref, ins.stage_index)
            if src is not None:
                copies.append(src)
            else:
                copy_images.append(ref)
        return state
    if kw == "RUN":
        # only a mount whose text says "from" can name a stage (keys are read case-blind): the others are not parsed
        if any(f.name == "mount" and f.value is not None and "from" in f.value.lower() for f in ins.flags):
            for m in mounts_of(ins):
                f = m.from_
                if f:
                    src = _stage_ref(doc, expand(f, env) or f, ins.stage_index)
                    if src is not None:
                        copies.append(src)
        if "add" not in ins.text or not _MAY_CREATE_ACCOUNTS.search(ins.text):
            return state  # no useradd/adduser/groupadd/addgroup: no accounts to read
        script = analysis_script(ins, doc.text)
        if script is None or not script.ok:
            return state
        made, groups = accounts_created(script, ins.index)
        if not made and not groups:
            return state
        accounts = dict(state.accounts)
        for u in made:
            accounts[u.name] = Account(u.name, u.uid, u.gid, u.home)
        user = state.user
        if user.spec is not None and user.uid is None:
            user = resolve_user(user.spec, accounts, None)
        return State._make(env, user, state.workdir, state.shell, accounts)
    return state


__all__ = ["DEFAULT_SHELL", "ROOT", "State", "StageGraph", "StageNode", "build_states"]
