"""Step kinds and the local step runner: how one attempt of one step actually runs.

Step kinds are plugins: a :class:`TaskHandler` has a ``kind`` name and a
``run(task, cancel)`` method, and a runner takes a plain mapping of kind to handler
(:func:`default_handlers` gives the built-in ``call``, ``shell`` and ``notebook``).
:class:`LocalRunner` is the :class:`~wfkit.engine.protocols.StepRunner` of one process:
a pool of worker threads; :class:`~wfkit.steps.dask_runner.DaskRunner` sends tasks to
a Dask cluster (the ``dask`` extra). :data:`RUNNERS` names the runners the ``runner``
setting may choose (:func:`open_runner`); :class:`RoutingRunner` sends each task to the
runner its step names (:func:`open_routing_runner`). Inside a shell or notebook step,
``output(value)`` of :mod:`wfkit.steps.output` (re-exported as ``wfkit.output``) records
the step's result.

Failures are outcomes, never exceptions. ``error_type`` is the Python exception's class
name for what user code raised (``ValueError``, ``KeyError``, a notebook cell's error
name...), or one of wfkit's own:

=====================  ==============================================================
``TimeoutError``       the step ran over its ``timeout`` (process killed, or function
                       abandoned)
``ShellStepFailed``    a shell step's program exited with a non-zero code
``OutputNotJSON``      a return value or ``$WFKIT_OUTPUT`` content is not JSON
``ExecutableNotFound`` a shell step's program cannot be started
``WorkdirNotFound``    the working directory does not exist
``NotebookNotFound``   no notebook file at the step's path
``InvalidNotebook``    the notebook file cannot be read
``InvalidStepTarget``  the step's target has the wrong shape
``InvalidStepInput``   the step's ``with`` does not fit (not a mapping, bad names)
``ModuleNotFoundError`` / ``AttributeError`` / ``TypeError``
                       a call target's module or function is missing, or the function
                       does not take the ``with`` keys
``MissingDependency``  an optional dependency is not installed
``UnknownStepKind``    the runner has no handler for the step's kind
``Canceled``           the task was cancelled (never reported by the runner)
``KilledWorker``       the Dask worker running the task died
``ResourcesUnavailable``
                       no Dask worker offers the step's ``resources``
``RunnerUnavailable``  the Dask scheduler cannot be reached, or dropped the task
``DaskError``          Dask refused the task when it was handed over
=====================  ==============================================================
"""

from wfkit.steps.base import CancelToken, TaskHandler
from wfkit.steps.call import CallHandler
from wfkit.steps.notebook import NotebookHandler
from wfkit.steps.output import OutputError
from wfkit.steps.routing import RoutingRunner
from wfkit.steps.runner import Done, LocalRunner, default_handlers
from wfkit.steps.runners import (
    DEFAULT_RUNNER,
    RUNNERS,
    RunnerOptions,
    open_routing_runner,
    open_runner,
)
from wfkit.steps.shell import ShellHandler

__all__ = [
    "DEFAULT_RUNNER",
    "RUNNERS",
    "CallHandler",
    "CancelToken",
    "Done",
    "LocalRunner",
    "NotebookHandler",
    "OutputError",
    "RoutingRunner",
    "RunnerOptions",
    "ShellHandler",
    "TaskHandler",
    "default_handlers",
    "open_routing_runner",
    "open_runner",
]
