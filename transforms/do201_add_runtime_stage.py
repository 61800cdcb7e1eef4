"""DO201 add-runtime-stage."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from dockeropt.edits import Change
from dockeropt.rules import Message, Pass, PassContext, register
from dockeropt.syntax import Dockerfile

from . import (
    _runtime_dotnet,
    _runtime_go,
    _runtime_java,
    _runtime_node,
    _runtime_php,
    _runtime_python,
    _runtime_ruby,
    _runtime_rust,
)
from ._runtime_common import base_text_for
from ._runtime_stage_analysis import Blocked, StageRead, read_stage
from ._runtime_stage_edit import Plan, stage_names, write

PLANNERS: dict[str, Callable[[StageRead], Plan | None]] = {
    "node": _runtime_node.plan,
    "python": _runtime_python.plan,
    "go": _runtime_go.plan,
    "java": _runtime_java.plan,
    "rust": _runtime_rust.plan,
    "dotnet": _runtime_dotnet.plan,
    "ruby": _runtime_ruby.plan,
    "php": _runtime_php.plan,
}


def _join(items: list[str]) -> str:
    items = list(dict.fromkeys(items))
    if not items:
        return "nothing"
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


@register
class AddRuntimeStage(Pass):
    """Split a toolchain build into a build stage and a small runtime stage.

    What it does:
        When the final stage builds on a toolchain image (a full node, python,
        golang, ruby or rust image, a JDK, the .NET SDK, a php image running
        composer, or a slim/alpine image that installs compilers and -dev
        packages) and builds or installs there, the final image starts from
        a runtime base with only what the app runs. Per ecosystem:

        - node (npm, yarn classic and berry, pnpm): without a build step the
          dependencies are installed once, production only, in a `deps`
          stage that gets only the manifests (for workspaces also each
          package's package.json, in its folder); the runtime copies that
          node_modules, then the app from the build context as the original
          COPYs did (`.dockerignore`, which DO203 writes, keeps out what the
          image does not need). With a build step the original stage builds,
          prunes the dev dependencies, and the runtime copies the app folder
          from it whole; so it does when a RUN changes the app folder after
          the source arrived (`echo '{...}' > config.json`, `chmod 600
          key.pem`, `sed -i`), a change the build context does not hold.
          `npm start`/`yarn start`/`pnpm start` become the
          `node` command they run, unless the source reads a variable the
          launcher sets (`process.env.npm_package_version`): then the
          launcher stays. `npm start -w packages/api` (a workspace by path
          or package name), `pnpm --filter web start` (by package name or
          `./folder`) and `yarn workspace web start` (by package name) run
          that workspace's script in its folder, so the runtime does too
          (a `WORKDIR` of that folder before CMD);
          words after `--` are passed on to the script, and a launcher word
          dockeropt does not read keeps the launcher; distroless nodejs when nothing needs a
          shell or npm, else node slim. A static server (http-server, serve)
          of a folder becomes nginx serving that folder on the same port.
          Yarn 2+ Plug'n'Play (`nodeLinker: pnp`, yarn's default) is
          declined: plain `node` does not load `.pnp.cjs`.
        - python (pip, poetry, pipenv, uv), only when the build needs what
          the slim runtime lacks (a compiler for a dependency without a
          wheel, -dev packages, git, poetry/pipenv/uv themselves): the
          dependencies go to one virtualenv that the runtime copies, with
          the runtime libraries of native packages (libpq-dev -> libpq5,
          psycopg2 -> libpq5); `poetry run`, `pipenv run` and `uv run` are
          resolved to the program they run. The virtualenv made for poetry
          2+ or pipenv 2024+ has no pip of its own (they install with their
          own), which saves the ensurepip step of every cold build.
        - go: `CGO_ENABLED=0` and distroless static when nothing needs cgo
          (go.mod/go.sum, `import "C"`, C sources), else a glibc runtime;
          a Go release that ships its standard library precompiled (before
          1.20) keeps its cgo default on a glibc runtime, since
          `CGO_ENABLED=0` would compile the standard library on every cold
          build; `go build` gets `-ldflags="-s -w"`. When the source reads
          files beside the binary (go, java, rust), the app folder comes
          from the build context as before, or whole from the build stage
          when a RUN changed it there.
        - java: the jar on the matching JRE, or distroless java for a plain
          `java -jar` (a start or HEALTHCHECK that runs a JDK-only tool
          such as `jcmd` keeps the JDK). rust: the release binary on distroless cc or Debian
          slim, dependencies built first from Cargo.toml alone. .NET: the
          `dotnet publish` folder on aspnet/runtime/runtime-deps, restored
          from the project file first. ruby: /usr/local/bundle on ruby slim.
          php: vendor/ from the composer stage on the same php image.

        ENV, ARG, WORKDIR, LABEL, EXPOSE, VOLUME, HEALTHCHECK, STOPSIGNAL,
        USER, ENTRYPOINT and CMD move to the runtime stage, whose layers go
        from what rarely changes (system packages, users) to the app. A
        program the app's source starts by name (`exec.Command("git", ...)`,
        `subprocess.run(["git", ...])`, `execFileSync('git')`) that the
        runtime base lacks is installed there (a Go app that starts one runs
        on Debian slim, not distroless), or the split is declined. A
        program copied from another image (`COPY --from=<image>`) that only
        the stage's RUNs use stays behind (uv, composer); any other (tini
        for the ENTRYPOINT, a wget for the HEALTHCHECK) is copied into the
        runtime too. Where
        the split would have to guess, a note names the line that blocks it
        and what to change.

    Why:
        A toolchain image carries compilers, headers, package managers and
        dev dependencies the running app never uses: hundreds of MB to pull,
        store and scan. The runtime stage keeps only what runs.

    Example:
        # before
        FROM node:18
        WORKDIR /app
        COPY . .
        RUN npm ci
        CMD ["npm", "start"]
        # after (package.json: "start": "node server.js")
        FROM node:18 AS deps
        WORKDIR /app
        COPY package.json package-lock.json ./
        RUN npm ci --omit=dev

        FROM gcr.io/distroless/nodejs18-debian12
        WORKDIR /app
        COPY --from=deps /app /app
        COPY . .
        CMD ["server.js"]

    Fix safety:
        Review: the app now runs on a smaller base. dockeropt checks the
        commands, the start command and (with a build context) the manifests,
        lockfiles and sources, but the app may still use a tool or library
        only the toolchain image had. Unsafe when no build context was given,
        because then it cannot see which files and libraries the app needs.
    """

    id = "DO201"
    name = "add-runtime-stage"
    # the .dockerignore DO203 writes decides what the runtime's copy of the build context brings
    after = ("DO203",)
    messages = {
        "split": Message(
            "Run on `{base}` in a separate runtime stage",
            "The final image now starts from `{base}` and gets only what the app runs; {leaves} stay behind. Check: {checks}.",
        ),
        "declined": Message(
            "Runtime stage not added",
            "The final stage builds on `{image}`, but {reason}; dockeropt leaves it as it is. {change}.",
        ),
    }

    def check(self, doc: Dockerfile, ctx: PassContext) -> Iterable[Change]:
        m = ctx.model(doc)
        final = m.graph.final
        if final is None or final.parent is not None:
            return
        try:
            r = read_stage(m, final, ctx.context)
            if r is None:
                return
            plan = PLANNERS[r.ecosystem](r)
            if plan is None:
                return
        except Blocked as b:
            yield self.say("declined", final.stage.from_instruction, image=final.base or final.base_text, reason=str(b),
                           change=b.change.rstrip("."))
            return
        base = base_text_for(final.base_text, final.base, plan.base) if "$" in final.base_text and plan.follows_base else plan.base
        if base is None:
            yield self.say("declined", final.stage.from_instruction, image=final.base or final.base_text,
                           reason=f"line {final.stage.from_instruction.start_line} takes the base from an ARG, and the runtime base "
                                  f"`{plan.base}` cannot follow it when the ARG changes",
                           change=f"Write the base literally, or add a runtime stage on `{plan.base}` by hand")
            return
        plan.base = base
        edit = write(m, r, plan, stage_names(m, r))
        if edit is None:
            return
        yield self.say("split", final.stage.from_instruction, [edit], plan.safety, base=plan.base, leaves=_join(plan.leaves),
                       checks="; ".join(dict.fromkeys(plan.checks)) or "the app starts and finds every file it reads")
