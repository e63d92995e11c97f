"""The ``snapshot`` command line: a thin click layer over :mod:`snapshot.api`.

Exit status: 0 success; 1 bad input (target, weights, config, inputs, archive);
2 command-line usage error; 3 the model's code cannot be extracted statically;
4 verification failed; 5 the archive's module is not trusted here, so nothing
ran; 123 internal error (a bug in keras-snapshot). ``snapshot diff`` follows
diff(1): 0 identical, 1 different, 2 unreadable.

Everything printed passes through :func:`_echo`, which escapes characters a
terminal would act on: archives are written by anyone.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

EXIT_OK = 0
EXIT_BAD_INPUT = 1
#: ``snapshot diff``, as diff(1): the archives differ; 2, one cannot be read.
EXIT_DIFFERENT = 1
EXIT_DIFF_TROUBLE = 2
EXIT_UNSUPPORTED_SOURCE = 3
EXIT_VERIFICATION_FAILED = 4
EXIT_UNTRUSTED = 5
EXIT_INTERNAL_ERROR = 123

_EXIT_CODES_HELP = (
    "Exit status: 0 on success; 1 when an input is wrong (target, weights, config, "
    "inputs, output path) or the built model holds something that cannot be written "
    "as code (a Lambda layer's lambda, say); 2 on a command-line usage error; 3 when "
    "the model's source code uses something that cannot be extracted statically "
    "(every such place is listed); "
    "4 when the snapshot does not reproduce the model in a fresh interpreter "
    "(nothing is written); 123 on an internal error."
)
_READ_EXIT_CODES_HELP = (
    "Exit status: 0 on success; 1 when ARCHIVE is not a readable snapshot (one line "
    "says why); 2 on a usage error."
)


class _PinParameter(click.ParamType):  # type: ignore[type-arg]  # generic in click 8.2+
    """A module's hash written ``sha256:HEX``."""

    name = "sha256"
    hint = ""

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> Any:
        from snapshot.errors import SnapshotError
        from snapshot.trust.policy import parse_pin

        try:
            parse_pin(value)
        except SnapshotError:
            self.fail(f"{value!r} is not sha256:<64 hex digits>{self.hint}", param, ctx)
        return value


class _TrustParameter(_PinParameter):
    """``--trust`` alone (True) or ``--trust sha256:HEX`` (a pin)."""

    name = "trust"
    hint = "; to trust whatever ARCHIVE holds, give a bare --trust after ARCHIVE"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> Any:
        return value if isinstance(value, bool) else super().convert(value, param, ctx)


_quiet_option = click.option(
    "--quiet",
    "-q",
    is_flag=True,
    help="Do not show the stages of a long save or verification on standard error "
    "(shown only on a terminal, once it has taken more than a second).",
)


def _model_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """Options shared by the commands that build a model from a TARGET."""
    options = [
        click.argument("target"),
        click.option(
            "--config",
            "config_text",
            metavar="JSON|FILE",
            help="Arguments of the model class's constructor (or of the factory "
            "function), as a JSON object or a JSON file. Default: none.",
        ),
        click.option(
            "--input",
            "input_specs",
            metavar="[NAME=]SHAPE[:DTYPE]",
            multiple=True,
            help="An input to build the model on, e.g. '1,3' or 'tokens=2,5:int32' "
            "(dtype defaults to float32). Repeat for several inputs: unnamed ones form "
            "a list, named ones a dict. Optional for a factory whose model comes built.",
        ),
        click.option(
            "--inputs",
            "inputs_file",
            type=click.Path(dir_okay=False),
            help="An .npz file with example inputs: one array, arrays arr_0, arr_1, ... "
            "(a list), or named arrays (a dict).",
        ),
        click.option(
            "--intern",
            multiple=True,
            metavar="PATTERN",
            help="Extract modules matching this glob (e.g. 'keras_hub') even if they are "
            "installed packages. Repeatable.",
        ),
        click.option(
            "--extern",
            multiple=True,
            metavar="PATTERN",
            help="Keep modules matching this glob as imports even if they are your own "
            "code. Repeatable.",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


@click.group(
    help=f"Save subclassed Keras models as standalone code plus weights.\n\n{_EXIT_CODES_HELP}"
)
@click.version_option(package_name="keras-snapshot")
@click.option(
    "--debug",
    is_flag=True,
    help="On an error, also print the traceback of what caused it (your model's "
    "code, Keras), before the one-line message.",
)
@click.pass_context
def cli(context: click.Context, debug: bool) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    context.obj = {"debug": debug}


@cli.command(
    "model",
    help="Snapshot the model made by TARGET ('package.module:Name' or 'path/to/file.py:Name', "
    "Name a keras.Model subclass or a function that returns a model) into an archive: "
    "TARGET is called with --config, the model built on the given inputs, its weights "
    f"loaded from --weights, then saved with its extracted source.\n\n{_EXIT_CODES_HELP}",
)
@_model_options
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(),
    help="Where to write the archive (a zip file, or a folder with --dir).",
)
@click.option(
    "--weights",
    type=click.Path(dir_okay=False),
    help="Weights to load into the model first: a .weights.h5 or .keras file. "
    "Without it the snapshot holds freshly initialised weights.",
)
@click.option("--dir", "as_dir", is_flag=True, help="Write the members into a folder.")
@click.option("--force", is_flag=True, help="Replace an existing archive at --output.")
@click.option(
    "--no-verify",
    is_flag=True,
    help="Skip loading the archive in a fresh interpreter before writing it "
    "(faster; the manifest then records no verification).",
)
@_quiet_option
def model_command(
    target: str,
    config_text: str | None,
    input_specs: tuple[str, ...],
    inputs_file: str | None,
    intern: tuple[str, ...],
    extern: tuple[str, ...],
    output: str,
    weights: str | None,
    as_dir: bool,
    force: bool,
    no_verify: bool,
    quiet: bool,
) -> None:
    def run() -> None:
        from snapshot import api
        from snapshot.archive.writer import check_destination
        from snapshot.cli.inputs import target_model

        layout = "dir" if as_dir else "zip"
        # Before the model's code is imported and run.
        check_destination(Path(output), layout=layout, overwrite=force)
        with _user_output_to_stderr():
            options, model = target_model(
                target, config_text, input_specs, inputs_file, weights
            )
            path = api.save(
                model,
                output,
                inputs=options.inputs,
                config=options.constructor_config,
                intern=intern,
                extern=extern,
                layout=layout,
                overwrite=force,
                verify=not no_verify,
            )
        _echo(f"wrote {path}")

    _run(run, quiet=quiet)


@cli.command(
    "source",
    help="Print the standalone module generated for TARGET to stdout (no weights, "
    f"nothing written).\n\n{_EXIT_CODES_HELP}",
)
@_model_options
def source_command(
    target: str,
    config_text: str | None,
    input_specs: tuple[str, ...],
    inputs_file: str | None,
    intern: tuple[str, ...],
    extern: tuple[str, ...],
) -> None:
    def run() -> None:
        from snapshot import api
        from snapshot.cli.inputs import target_model

        with _user_output_to_stderr():
            options, model = target_model(
                target, config_text, input_specs, inputs_file, None
            )
            text = api.module_source(
                model,
                inputs=options.inputs,
                config=options.constructor_config,
                intern=intern,
                extern=extern,
            )
        click.echo(text, nl=False)

    _run(run)


@cli.command(
    "verify",
    help="Load ARCHIVE in a fresh interpreter where the model's original packages "
    "cannot be imported, check every weight is matched, and compare the outputs on "
    "the stored probe batch with those recorded at save time. Prints a report: "
    "versions then and now, the largest difference, the variables loaded.\n\n"
    "Loading runs the archive's module, so it runs only when trusted: saved by you on "
    "this machine, trusted with 'snapshot trust', or given with --trust.\n\n"
    "Exit status: 0 when the outputs agree within --tolerance; 4 when they do not "
    "or the archive does not load; 5 when its module is not trusted here (nothing "
    "ran); 1 when ARCHIVE is not a readable snapshot; 2 on a usage error.",
)
@click.argument("archive", type=click.Path())
@click.option(
    "--tolerance",
    type=float,
    default=None,
    help="Largest absolute output difference accepted. Default: what floating-point "
    "rounding explains, 16 units in the last place of the largest recorded output, "
    "256 when KERAS_BACKEND differs from the backend that saved the model (0 for "
    "integer outputs); other hardware or library versions may need more, e.g. 1e-5.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--trust",
    is_flag=False,
    flag_value=True,
    default=False,
    type=_TrustParameter(),
    metavar="[sha256:HEX]",
    help="Run ARCHIVE's module although it is not trusted on this machine: only the "
    "module with this hash (as 'snapshot review' shows it), or, given alone after "
    "ARCHIVE, whatever module it holds.",
)
@_quiet_option
def verify_command(
    archive: str,
    tolerance: float | None,
    as_json: bool,
    trust: bool | str,
    quiet: bool,
) -> None:
    def run() -> None:
        from snapshot import api

        report = api.verify(archive, tolerance=tolerance, trust=trust)
        if as_json:
            _echo(json.dumps(report.to_dict(), indent=2, sort_keys=True))
        else:
            _echo(report.summary())
        if not report.passed:
            sys.exit(EXIT_VERIFICATION_FAILED)

    _run(run, quiet=quiet)


@cli.command(
    "diff",
    help="Show what changed from archive A to archive B, without running either's "
    "code: the generated module (unified diff), the constructor arguments, the input "
    "shapes, each stored variable (shape changes; largest absolute and relative L2 "
    "difference), the optimizer's step and class, the checkpoint's epoch, versions "
    "and requirements.\n\nExit status, as diff(1): 0 when the archives are "
    "identical; 1 when they differ; 2 when one cannot be read or on a usage error.",
)
@click.argument("a", type=click.Path())
@click.argument("b", type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print the differences as JSON.")
@_quiet_option
def diff_command(a: str, b: str, as_json: bool, quiet: bool) -> None:
    def run() -> None:
        from snapshot.archive.diff import diff_archives, summary

        found = diff_archives(Path(a), Path(b))
        if as_json:
            _echo(json.dumps(found.to_dict(), indent=2, sort_keys=True))
        else:
            _echo(summary(found))
        sys.exit(EXIT_OK if found.identical else EXIT_DIFFERENT)

    _run(run, needs_keras=False, quiet=quiet, bad_input_exit=EXIT_DIFF_TROUBLE)


@cli.command(
    "inspect",
    help="Describe ARCHIVE without running its code: class, versions, requirements, "
    "every member with its size and hash, source files, the extracted definitions "
    "with their origin, whether its module is trusted on this machine, a lint of the "
    "module (advice, not a safety check) and the verification record.\n\n"
    + _READ_EXIT_CODES_HELP,
)
@click.argument("archive", type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print the description as JSON.")
def inspect_command(archive: str, as_json: bool) -> None:
    def run() -> None:

        from snapshot.archive.inspect import describe_opened, summary
        from snapshot.archive.reader import read_archive

        opened = read_archive(Path(archive))
        described = describe_opened(
            opened, where=archive, trusted=_trusted_because(opened.module_sha256)
        )
        if as_json:
            _echo(json.dumps(described, indent=2, sort_keys=True))
        else:
            _echo(summary(described))

    _run(run, needs_keras=False)


@cli.command(
    "review",
    help="Print ARCHIVE's generated module exactly as Python will decode and run it, "
    "numbered, with characters a terminal would hide shown escaped and their lines "
    "marked '!'; above it, the module's sha256, whether it is trusted on this machine "
    "and a lint of it (advice, not a safety check). Nothing runs. If you trust the "
    "module, record it with 'snapshot trust ARCHIVE --expect sha256:HEX'.\n\n"
    + _READ_EXIT_CODES_HELP,
)
@click.argument("archive", type=click.Path())
def review_command(archive: str) -> None:
    def run() -> None:
        import shlex
        from pathlib import Path

        from snapshot.archive.reader import read_archive
        from snapshot.archive.review import review_text

        opened = read_archive(Path(archive))
        trusted = _trusted_because(opened.module_sha256)
        _echo(review_text(opened, where=archive, trusted=trusted))
        if trusted is None:
            _echo(
                f"\nto let it run here: snapshot trust {shlex.quote(archive)} "
                f"--expect sha256:{opened.module_sha256}"
            )

    _run(run, needs_keras=False)


@cli.command(
    "trust",
    help="Trust ARCHIVE's generated module on this machine, after reading it with "
    "'snapshot review': its sha256 goes into the trust store (a folder of small files, "
    "$KERAS_SNAPSHOT_TRUST_DIR or ~/.local/share/keras-snapshot/trusted/; delete a "
    "file to withdraw the trust), and snapshot.load and 'snapshot verify' then run "
    "this exact module, and no other, without --trust.\n\n" + _READ_EXIT_CODES_HELP,
)
@click.argument("archive", type=click.Path())
@click.option(
    "--expect",
    type=_PinParameter(),
    metavar="sha256:HEX",
    help="Trust the module only if this is its hash: the one 'snapshot review' "
    "showed, in case the archive changed since.",
)
def trust_command(archive: str, expect: str | None) -> None:
    def run() -> None:
        from pathlib import Path

        from snapshot.archive.reader import read_archive
        from snapshot.errors import UntrustedArchiveError
        from snapshot.trust.policy import parse_pin
        from snapshot.trust.store import default_store, new_record

        opened = read_archive(Path(archive))
        digest = opened.module_sha256
        if expect is not None and parse_pin(expect) != digest:
            raise UntrustedArchiveError(
                f"{archive}: {opened.manifest.module} has sha256 {digest}, not the "
                f"expected {parse_pin(expect)}; it changed since you reviewed it"
            )
        store = default_store()
        record = store.record(
            new_record(
                sha256=digest,
                module=opened.manifest.module,
                archive=Path(archive),
                how="reviewed",
            )
        )
        _echo(
            f"trusted sha256:{digest} ({opened.manifest.module}): {record.describe()}; "
            f"record {store.folder / (digest + '.json')}"
        )

    _run(run, needs_keras=False)


def _trusted_because(sha256: str) -> str | None:
    """Why the module with ``sha256`` is trusted here, or None."""
    from snapshot.trust.store import default_store

    record = default_store().lookup(sha256)
    return None if record is None else record.describe()


def _echo(text: str, *, err: bool = False) -> None:
    """Print ``text`` with every unprintable character but newlines escaped."""
    from snapshot.errors import printable

    click.echo(printable(text, keep="\n"), err=err)


def _run(
    command: Callable[[], None],
    *,
    needs_keras: bool = True,
    quiet: bool = True,
    bad_input_exit: int | None = None,
) -> None:
    from snapshot.errors import SnapshotError

    try:
        if needs_keras:
            _import_keras_quietly()
        with _terminal_progress(enabled=not quiet and sys.stderr.isatty()):
            command()
    except SnapshotError as error:
        context = click.get_current_context(silent=True)
        debug = bool(context and (context.find_root().obj or {}).get("debug"))
        if debug and error.__cause__ is not None:
            traceback.print_exception(error.__cause__)
        _echo(f"error: {error}", err=True)
        sys.exit(error.exit_code if bad_input_exit is None else bad_input_exit)
    except Exception:
        traceback.print_exc()
        click.echo("internal error in keras-snapshot; please report it", err=True)
        sys.exit(EXIT_INTERNAL_ERROR)


@contextlib.contextmanager
def _terminal_progress(*, enabled: bool) -> Iterator[None]:
    """Show the stages of long operations on standard error while the command runs."""
    if not enabled:
        yield
        return
    from snapshot.progress import LOGGER, TerminalProgress

    handler = TerminalProgress(sys.stderr)
    level = LOGGER.level
    LOGGER.addHandler(handler)
    LOGGER.setLevel(logging.INFO)
    try:
        yield
    finally:
        LOGGER.removeHandler(handler)
        LOGGER.setLevel(level)


def _user_output_to_stderr() -> contextlib.AbstractContextManager[Any]:
    """What the model's code prints (``model.summary()`` in a factory) goes to stderr.

    Standard output is the command's own: the generated module of ``source``,
    which must stay valid Python, or the path ``model`` wrote.
    """
    return contextlib.redirect_stdout(sys.stderr)


def _import_keras_quietly() -> None:
    """Import Keras with file descriptor 2 closed.

    TensorFlow's native start-up messages (absl, oneDNN, CPU features) ignore
    TF_CPP_MIN_LOG_LEVEL and would bury the one line this command prints.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import keras  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def main() -> None:
    """Entry point of the ``snapshot`` console script."""
    cli(prog_name="snapshot")
