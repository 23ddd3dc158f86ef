"""Developer sessions: `nox -s tests`, `nox -s lint`, `nox -s demo`, `nox -s bench`, `nox -s vllm`, `nox -s cart`."""

import nox

nox.options.sessions = ["tests", "lint"]
CPU_TORCH = "torch==2.13.0"  # the CPU wheel; drop on GPU machines


def install(session: nox.Session, *extra: str) -> None:
    session.install(CPU_TORCH, "-e", "packages/gb-gym[test]", "-e", "packages/vlm-rl[test]", *extra)


@nox.session
def tests(session: nox.Session) -> None:
    install(session)
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", "packages", "benchmarks", "tests", "examples", "noxfile.py")


@nox.session
def demo(session: nox.Session) -> None:
    install(session)
    session.run("python", "-m", "vlm_rl.train", "+exp=hopland", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    install(session)
    for script in ("env_speed.py", "rollout_batching.py", "critic_cost.py", "train_memory.py"):
        session.run("python", f"benchmarks/{script}")


@nox.session(python=False)
def vllm(session: nox.Session) -> None:
    """The vLLM tests, in the second environment they need (built once into .venv-vllm)."""
    session.run("sh", "tests/vllm_env.sh", *session.posargs, external=True)


@nox.session(python=False)
def cart(session: nox.Session) -> None:
    """Rebuild the cartridge and check it is byte-identical to the committed ROM (needs sdcc)."""
    session.run("sh", "packages/gb-gym/cart/build.sh", "--check", external=True)
