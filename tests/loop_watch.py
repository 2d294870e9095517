"""Callbacks that keep the UI waiting: a watch on the event loop that measures and names them.

    with LoopWatch() as watch:            # entered in the test's running loop
        watch.count_from_first_frame(app)
        async with app.run_test(message_hook=watch.message_seen) as pilot:
            watch.phase = "opening reconciliation (c on Home)"
            ...
    assert watch.ok(), watch.report()

asyncio's debug mode (`loop.slow_callback_duration`) says that a callback took long, by wall
time, and names its task, but not what it was doing inside. So while the watch is on,
`asyncio.events.Handle._run` (every callback a loop runs: task steps, call_soon, timers) is
wrapped to note, in the loop's thread, each callback's wall time and thread CPU time
(`time.thread_time()` at its start and end). A watchdog thread looks every POLL_S; while the
running callback has taken NOTE_S or more, it samples the loop thread's stack
(`sys._current_frames()`) at each look, so the report shows where the time went: the innermost
frames of ours (msp_tui/, screens/, adapters/), the handler Textual called (the outermost frame
of ours, and its caller) and, from Textual's `message_hook`, the messages being handled.

A callback is slow when, the garbage collector's share left out (below),
- its CPU time in the loop thread is over CPU_LIMIT_S (50 ms, three frames): CPU time, not wall
  time, so that a machine made busy by other processes (CI runs the suite beside two CPU-bound
  loops) or our own worker threads holding the GIL cannot make the guard fail, or
- it spent over STALL_LIMIT_S (0.5 s) off the CPU asleep in a wait of its own (a lock, a
  socket, a join, the store's busy timeout), which CPU time cannot see. Half a second is a stall
  anyone notices (30 frames); shorter waits show in the list. Such a wait is told apart from
  contention, the loop thread held off the CPU while our worker threads and the in-process
  simulators run Python (the GIL) or other processes have the cores, by its voluntary context
  switches (getrusage, RUSAGE_THREAD): a thread waiting for the GIL wakes every 5 ms to ask for
  it, one in a wait sleeps long, so a wait is under one sleep per 20 ms off the CPU (measured
  here: a lock or a sleep of 0.6 s, 1-2 sleeps; SQLite's busy wait, 15; a thread kept from the
  GIL by two busy ones, 74-156). Contention is listed, not failed: it follows the machine's load
  and, in this test, simulators the app does not run.
Every callback over NOTE_S of wall time is listed in the report, slow or not.

The garbage collector runs inside whichever callback allocates when a collection is due, and a
full collection costs in proportion to every object in the process, here including the test's
simulators, their worlds and pytest: its time is measured (`gc.callbacks`) and reported apart,
never held against the callback it happened to interrupt.

asyncio's debug mode itself is not on by default: it records a stack for every handle, future
and coroutine made, which made this session three times slower (beyond any time budget on a
2-core machine) and inflated the CPU time of the callbacks measured. What else it checks that
matters while work moves to threads, loop calls made from another thread (call_soon, call_at:
not thread-safe), is checked here, cheaply, and fails the watch. LOOP_WATCH_DEBUG=1 turns the
real debug mode on as well (slow_callback_duration = NOTE_S), for a deeper look.
"""

from __future__ import annotations

import asyncio
import gc
import linecache
import logging
import os
import re
import resource
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CPU_LIMIT_S = 0.05
STALL_LIMIT_S = 0.5
NOTE_S = 0.05  # wall time from which a callback is sampled and listed
POLL_S = 0.01
MAX_SAMPLES = 200  # per callback: 2 s of looks at 10 ms
BUSY_NOTE_S = 0.5  # a step whose callbacks took this much CPU shows where it went

ROOT = Path(__file__).resolve().parent.parent
OURS = tuple(str(ROOT / part) + "/" for part in ("msp_tui", "screens", "adapters"))
STDLIB = re.compile(r".*/lib/python3\.\d+/")

Frame = tuple[str, int, str]  # file, line, qualified name


class Textual:
    """What Textual itself costs here: a bare Textual app's screen switch, measured by the test
    in the same run (`floor`, its costliest callback's CPU), and the limit for callbacks with no
    frame of ours (`FLOOR_FACTOR` times it). On this 2-core machine a bare form screen's first
    layout and render take 60-90 ms of CPU in one callback: no Textual screen switch fits in
    50 ms here, and what the guard can hold our screens to is Textual's own floor."""

    FLOOR_FACTOR = 1.5
    floor = 0.0
    limit = CPU_LIMIT_S


@dataclass
class Callback:
    """One callback the loop ran for NOTE_S or more."""

    what: str  # the task (its name and coroutine) or the function called
    phase: str  # what the operator was doing when it began
    at: float  # when it began, seconds after the watch started
    wall: float
    cpu: float
    counted: bool  # begun after the app's first frame
    gc_wall: float = 0.0  # of the wall and CPU time, the garbage collector's
    gc_cpu: float = 0.0
    gc_generations: tuple[int, ...] = ()
    waits: int = 0  # voluntary context switches of the loop thread (it slept: a wait, the GIL)
    preempted: int = 0  # involuntary ones (the scheduler gave its core to another thread)
    queued: float = 0.0  # time runnable but waiting for a core (/proc/.../schedstat)
    messages: list[str] = field(default_factory=list)  # the Textual messages it handled
    samples: list[list[Frame]] = field(default_factory=list)  # stacks, outermost first

    @property
    def work_cpu(self) -> float:
        return self.cpu - self.gc_cpu

    @property
    def off_cpu(self) -> float:
        return self.wall - self.cpu

    @property
    def asleep(self) -> float:
        """Off the CPU and not waiting for a core: asleep (in a wait, or for the GIL)."""
        return max(0.0, self.off_cpu - self.queued)

    def waited(self) -> bool:
        """Its sleeps were a wait (a lock, a socket, a join: at least 20 ms a sleep), not the
        many short ones of a thread waiting for the GIL, which wakes every 5 ms to ask for it."""
        return self.asleep / max(self.waits, 1) >= 0.02

    def blocked(self) -> bool:
        return self.asleep > STALL_LIMIT_S and self.waited()

    def ours(self) -> bool:
        """Our code did most of the work: a frame of ours is in most looks at it. A frame
        update (Textual's `screen_update` timer drawing a screen) is Textual's, whatever the
        looks saw: it calls our lists' `render_line` for each row drawn, about 1 ms a row
        measured, and one look landing there (as in a CI run) says nothing of the rest."""
        if "screen_update" in self.what:
            return False
        looks = [any(is_ours(f) for f in s) for s in self.samples]
        return sum(looks) * 2 > len(looks)

    def cpu_limit(self) -> float:
        """CPU_LIMIT_S for work of ours; for Textual's own (a new screen's first layout and
        full render), the floor a bare Textual app pays for the same, measured in the same run
        (`Textual.floor`), when that is higher."""
        return CPU_LIMIT_S if self.ours() else max(CPU_LIMIT_S, Textual.limit)

    def slow(self) -> bool:
        return self.counted and (self.work_cpu > self.cpu_limit() or self.blocked())

    def why(self) -> str:
        if self.work_cpu > self.cpu_limit():
            why = f"CPU {ms(self.work_cpu)} > {ms(self.cpu_limit())}"
        elif self.blocked():
            why = f"{ms(self.asleep)} asleep in a wait > {ms(STALL_LIMIT_S)}"
        else:
            why = "not slow"
        if self.gc_generations:
            gens = ", ".join(map(str, self.gc_generations))
            why += f"; the garbage collector's {ms(self.gc_cpu)} (generation {gens}) left out"
        return why

    def held_off(self) -> str:
        """Why it was off the CPU, when that was long."""
        if self.off_cpu < NOTE_S:
            return ""
        why = "a wait" if self.waited() else "the GIL, mostly"
        return (f" off-CPU {ms(self.off_cpu)}: {ms(self.queued)} waiting for a core"
                f" ({plural(self.preempted, 'preemption')}), {ms(self.asleep)} asleep"
                f" ({plural(self.waits, 'sleep')}: {why})")  # fmt: skip

    def innermost_ours(self) -> list[tuple[Frame, int]]:
        """The innermost frame of ours in each look, most frequent first."""
        found = Counter(ours[-1] for s in self.samples if (ours := [f for f in s if is_ours(f)]))
        return found.most_common()

    def entry(self) -> tuple[Frame | None, Frame | None]:
        """The outermost frame of ours and the frame that called it (Textual's, mostly)."""
        for stack in self.samples:
            for n, frame in enumerate(stack):
                if is_ours(frame):
                    return frame, stack[n - 1] if n else None
        return None, None


@dataclass
class ForeignCall:
    """A call into the watched loop from another thread (not thread-safe)."""

    method: str
    thread: str
    stack: list[Frame]


class LoopWatch:
    """Measures every callback of the running loop (see the module's doc). A context manager,
    entered and left in the loop's thread."""

    def __init__(self) -> None:
        self.counting = False
        self.first_frame_at: float | None = None
        self.callbacks: list[Callback] = []
        self.foreign_calls: list[ForeignCall] = []
        self.gc_pauses: list[tuple[float, int]] = []  # (CPU, generation), those over NOTE_S
        self.debug_warnings: list[str] = []
        self.phases: list[tuple[float, str]] = []  # (when, what the operator began doing)
        self.runs = 0  # callbacks run in the loop thread while watched
        self.errors: list[str] = []  # the watch's own failures (it must not break the loop)
        self._left = False
        # the loop thread's CPU in callbacks, by step and by task or function, and how many
        self.load: dict[str, Counter[str]] = {}
        self.load_runs: dict[str, Counter[str]] = {}
        self._started = time.perf_counter()
        self.phase = "starting"
        self._current: tuple[int, float] | None = None  # (sequence, start) of the one running
        self._seq = 0
        self._samples: dict[int, list[list[Frame]]] = {}
        self._messages: list[Any] = []
        self._gc: dict[int, list] = {}  # sequence -> [wall, CPU, generations] in the collector
        self._gc_start: tuple[float, float] | None = None
        self._stop = threading.Event()

    @property
    def phase(self) -> str:
        return self._phase

    @phase.setter
    def phase(self, what: str) -> None:
        """What the operator is doing now: slow callbacks are reported with it."""
        self._phase = what
        self.phases.append((time.perf_counter() - self._started, what))
        self.load.setdefault(what, Counter())
        self.load_runs.setdefault(what, Counter())

    # --- on and off ----------------------------------------------------------------------------

    def __enter__(self) -> LoopWatch:
        self.loop = asyncio.get_running_loop()
        self.thread_id = threading.get_ident()
        # the loop thread's time waiting for a core, second field (Linux)
        self._schedstat = os.open(f"/proc/self/task/{threading.get_native_id()}/schedstat",
                                  os.O_RDONLY)  # fmt: skip
        self._debug = (self.loop.get_debug(), self.loop.slow_callback_duration)
        if os.environ.get("LOOP_WATCH_DEBUG") == "1":
            self.loop.set_debug(True)
            self.loop.slow_callback_duration = NOTE_S
        self._log_handler = _Collect(self.debug_warnings)
        logging.getLogger("asyncio").addHandler(self._log_handler)
        for method in ("call_soon", "call_at"):  # call_later calls call_at
            setattr(self.loop, method, self._guard(method, getattr(self.loop, method)))
        self._original_run = asyncio.events.Handle._run
        asyncio.events.Handle._run = self._wrap(self._original_run)  # type: ignore[method-assign]
        gc.callbacks.append(self._gc_seen)
        self._watchdog = threading.Thread(target=self._watch, name="loop-watchdog", daemon=True)
        self._watchdog.start()
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.events.Handle._run = self._original_run  # type: ignore[method-assign]
        gc.callbacks.remove(self._gc_seen)
        for method in ("call_soon", "call_at"):
            delattr(self.loop, method)
        self._stop.set()
        self._watchdog.join(5)
        self._left = True
        if self._current is None:  # else the callback leaving the watch closes it, after
            os.close(self._schedstat)
        logging.getLogger("asyncio").removeHandler(self._log_handler)
        self.loop.set_debug(self._debug[0])
        self.loop.slow_callback_duration = self._debug[1]

    def count_from_first_frame(self, app: Any) -> None:
        """Count the callbacks begun after the app's first frame. Before it is Textual's
        start-up (reading the CSS, the first compose and mount), which the start-up bench
        measures; those callbacks are still listed, as not counted. Textual draws every frame,
        headless too, in `App._display` (private), outside a batch update."""
        display = app._display

        def first_frame(screen: Any, renderable: Any) -> None:
            if renderable is not None and not app._batch_count and not self.counting:
                self.counting = True
                self.first_frame_at = time.perf_counter() - self._started
            display(screen, renderable)

        app._display = first_frame

    def message_seen(self, message: Any) -> None:
        """For `run_test(message_hook=...)`: Textual calls it, in the loop thread, with each
        message it is about to handle."""
        if len(self._messages) < 20:
            self._messages.append(message)

    # --- measuring -----------------------------------------------------------------------------

    def _wrap(self, original: Any) -> Any:
        watch, clock, cpu_clock = self, time.perf_counter, time.thread_time
        ident, usage, thread = threading.get_ident, resource.getrusage, resource.RUSAGE_THREAD
        pread, schedstat = os.pread, self._schedstat

        def _run(handle: asyncio.Handle) -> None:
            if ident() != watch.thread_id or watch._current is not None:
                return original(handle)  # another thread's loop (simulators, work loop)
            watch._seq += 1
            seq, counted, phase = watch._seq, watch.counting, watch._phase
            watch._messages = []
            queued0 = pread(schedstat, 64, 0)
            usage0 = usage(thread)
            cpu0 = cpu_clock()
            start = clock()
            watch._current = (seq, start)
            try:
                return original(handle)
            finally:
                watch._current = None
                wall = clock() - start
                cpu = cpu_clock() - cpu0
                try:  # never let the watch break the loop it watches
                    watch.runs += 1
                    what = describe(handle)
                    watch.load[phase][what] += cpu
                    watch.load_runs[phase][what] += 1
                    samples = watch._samples.pop(seq, None) if watch._samples else None
                    in_gc = watch._gc.pop(seq, None) if watch._gc else None
                    if wall >= NOTE_S and not watch._left:
                        usage1 = usage(thread)
                        queued = _queued(pread(schedstat, 64, 0)) - _queued(queued0)
                        switches = (usage1.ru_nvcsw - usage0.ru_nvcsw,
                                    usage1.ru_nivcsw - usage0.ru_nivcsw, queued)  # fmt: skip
                        watch._note(what, phase, start, wall, cpu, counted, samples, in_gc,
                                    switches)  # fmt: skip
                except Exception as exc:  # reported, and the guard fails
                    watch.errors.append(f"{type(exc).__name__}: {exc}")
                if watch._left:  # the watch was left in this very callback
                    os.close(schedstat)

        return _run

    def _note(self, what: str, phase: str, start: float, wall: float, cpu: float,
              counted: bool, samples: list | None, in_gc: list | None,
              switches: tuple[int, int, float]) -> None:  # fmt: skip
        gc_wall, gc_cpu, generations = in_gc or (0.0, 0.0, ())
        messages = [_short(repr(m)) for m in self._messages]
        self.callbacks.append(Callback(what, phase, start - self._started, wall, cpu,
                                       counted, gc_wall, gc_cpu, tuple(sorted(set(generations))),
                                       *switches, messages, samples or []))  # fmt: skip

    def _gc_seen(self, phase: str, info: dict) -> None:
        """gc.callbacks: the collector's time inside a callback, told apart from the callback's."""
        if threading.get_ident() != self.thread_id or self._current is None:
            return
        if phase == "start":
            self._gc_start = (time.perf_counter(), time.thread_time())
            return
        if self._gc_start is None:
            return
        wall = time.perf_counter() - self._gc_start[0]
        cpu = time.thread_time() - self._gc_start[1]
        self._gc_start = None
        total = self._gc.setdefault(self._current[0], [0.0, 0.0, []])
        total[0] += wall
        total[1] += cpu
        total[2].append(info["generation"])
        if cpu >= NOTE_S:
            self.gc_pauses.append((cpu, info["generation"]))

    def _guard(self, name: str, method: Any) -> Any:
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if threading.get_ident() != self.thread_id:
                stack = _stack(sys._getframe(1))
                self.foreign_calls.append(ForeignCall(name, threading.current_thread().name, stack))
            return method(*args, **kwargs)

        return guarded

    def _watch(self) -> None:
        """The watchdog: samples the loop thread's stack while a callback runs long."""
        while not self._stop.wait(POLL_S):
            current = self._current
            if current is None or time.perf_counter() - current[1] < NOTE_S:
                continue
            if self._gc_start is not None:
                continue  # the collector's frames (finalizers), not the callback's work
            samples = self._samples.setdefault(current[0], [])
            if len(samples) >= MAX_SAMPLES:
                continue
            stack = _stack(sys._current_frames().get(self.thread_id))
            if self._current is current:  # still the same callback: the stack is its own
                samples.append(stack)
            elif not samples:
                self._samples.pop(current[0], None)

    # --- judging and telling -------------------------------------------------------------------

    def slow(self) -> list[Callback]:
        return [c for c in self.callbacks if c.slow()]

    def ok(self) -> bool:
        return not self.slow() and not self.foreign_calls and not self.errors

    def report(self) -> str:
        slow = self.slow()
        out = [
            f"{len(slow)} callback(s) kept the UI waiting (over {ms(CPU_LIMIT_S)} of CPU in the"
            f" loop thread with a frame of ours, over {ms(Textual.limit)} in Textual's alone"
            f" ({Textual.FLOOR_FACTOR}x the {ms(Textual.floor)} a bare Textual app's screen"
            " switch took in this run), the garbage collector's share left out, or over"
            f" {ms(STALL_LIMIT_S)} asleep in a wait), of {self.runs:,} run after the first frame"
            f" ({self.first_frame_at or 0:.2f} s):"
        ]
        for n, callback in enumerate(slow, 1):
            out += ["", *_details(n, callback)]
        if self.errors:
            out += ["", "The watch itself failed (so this run's measures are incomplete):"]
            out += [f"   {error}" for error in self.errors[:5]]
        if self.foreign_calls:
            out += ["", f"{len(self.foreign_calls)} call(s) into the UI loop from another thread"
                        " (not thread-safe: post a message or use call_from_thread):"]  # fmt: skip
            for call in self.foreign_calls[:5]:
                out.append(f"   loop.{call.method} from thread {call.thread!r}:")
                out += [f"      {_where(f)}: {_source(f)}" for f in call.stack[-8:]]
        out += ["", f"Every callback over {ms(NOTE_S)} (wall), in order (* = slow, - = before"
                    " the first frame, not counted):"]  # fmt: skip
        for callback in self.callbacks:
            mark = "*" if callback.slow() else " " if callback.counted else "-"
            inner = callback.innermost_ours()
            where = _where(inner[0][0]) if inner else callback.what
            collected = f" (GC {ms(callback.gc_cpu)})" if callback.gc_cpu >= 0.005 else ""
            out.append(f" {mark} {callback.at:6.2f} s  wall {ms(callback.wall):>6}  CPU"
                       f" {ms(callback.cpu):>6}{collected}{callback.held_off()}  {callback.phase}:"
                       f" {where}")  # fmt: skip
        if self.gc_pauses:
            longest = max(self.gc_pauses)
            out += ["", f"The garbage collector paused the loop thread {len(self.gc_pauses)}"
                        f" time(s) for over {ms(NOTE_S)}, the longest {ms(longest[0])}"
                        f" (generation {longest[1]}): not held against the callbacks."]  # fmt: skip
        ends = [at for at, _ in self.phases[1:]] + [time.perf_counter() - self._started]
        out += ["", "The session's steps: start, length, the loop thread's CPU in callbacks (its"
                    " share of the step), and where most of it went:"]  # fmt: skip
        for (at, what), end in zip(self.phases, ends, strict=True):
            spent = self.load.get(what, Counter())
            busy = sum(spent.values())
            share = f"{busy / (end - at):4.0%}" if end > at else "   -"
            out.append(f"   {at:6.2f} s {end - at:6.2f} s {ms(busy):>8} {share}  {what}")
            if busy >= BUSY_NOTE_S:
                runs = self.load_runs[what]
                out += [f"{'':33}{ms(cpu):>8} in {runs[task]:,} x {_short(task, 70)}"
                        for task, cpu in spent.most_common(3)]  # fmt: skip
        if self.debug_warnings:
            out += ["", f"asyncio's logger warned {len(self.debug_warnings)} time(s):"]
            out += [f"   {_short(w, 160)}" for w in self.debug_warnings[:30]]
        return "\n".join(out)


# --- helpers -----------------------------------------------------------------------------------


class _Collect(logging.Handler):
    def __init__(self, into: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(record.getMessage())


def _queued(schedstat: bytes) -> float:
    return int(schedstat.split()[1]) / 1e9


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'s' * (n != 1)}"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms"


def is_ours(frame: Frame) -> bool:
    return frame[0].startswith(OURS)


def _stack(frame: Any) -> list[Frame]:
    """A stack's frames, outermost first, from the callback's own (those above Handle._run)."""
    frames: list[Frame] = []
    while frame is not None:
        code = frame.f_code
        if code.co_name == "_run" and code.co_filename == __file__:
            break  # our wrapper of Handle._run: below it are the loop and pytest
        frames.append((code.co_filename, frame.f_lineno or 0, code.co_qualname))
        frame = frame.f_back
    frames.reverse()
    return frames


def _path(filename: str) -> str:
    if "/site-packages/" in filename:
        return filename.split("/site-packages/", 1)[1]
    if filename.startswith(str(ROOT) + "/"):
        return filename[len(str(ROOT)) + 1 :]
    return STDLIB.sub("", filename)


def _where(frame: Frame) -> str:
    return f"{_path(frame[0])}:{frame[1]} {frame[2]}"


def _source(frame: Frame) -> str:
    return linecache.getline(frame[0], frame[1]).strip()


def _short(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


TEXTUAL_WORK = [  # what Textual was doing, by the innermost frame that tells
    ("styles (CSS)", ("textual/css/", "update_node_styles")),
    ("layout", ("textual/_arrange.py", "textual/layouts/", "textual/_resolve.py",
                "_get_box_model", "Widget.arrange")),
    ("rendering", ("textual/_compositor.py", "textual/_styles_cache.py", "textual/strip.py",
                   "textual/visual.py", "textual/content.py", "rich/")),
    ("mounting", ("Widget.mount", "_on_compose", "compose")),
]  # fmt: skip


def _textual_work(samples: list[list[Frame]]) -> str:
    found: Counter[str] = Counter()
    for stack in samples:
        for frame in reversed(stack):
            where = f"{_path(frame[0])} {frame[2]}"
            kind = next((k for k, marks in TEXTUAL_WORK if any(m in where for m in marks)), None)
            if kind:
                found[kind] += 1
                break
        else:
            found["other"] += 1
    return ", ".join(f"{kind} {n}" for kind, n in found.most_common())


def describe(handle: asyncio.Handle) -> str:
    """The task a callback steps (its name and coroutine), or the function it calls."""
    callback = getattr(handle, "_callback", None)
    task = getattr(callback, "__self__", None)
    if isinstance(task, asyncio.Task):
        coro = task.get_coro()
        name = getattr(coro, "__qualname__", type(coro).__name__)
        return f"task {task.get_name()!r} ({name})"
    name = getattr(callback, "__qualname__", None) or repr(callback)
    return f"callback {_short(name)}"


def _details(n: int, callback: Callback) -> list[str]:
    handling = f", handling {', '.join(callback.messages[:3])}" if callback.messages else ""
    out = [
        f"#{n} wall {ms(callback.wall)}, CPU {ms(callback.cpu)} ({callback.why()}),"
        f"{callback.held_off()} at {callback.at:.2f} s, while: {callback.phase}",
        f"   {callback.what}{handling}",
    ]
    if not callback.samples:
        out.append("   no stack: the watchdog never got in (C code holding the GIL throughout)")
        return out
    looks = len(callback.samples)
    inner = callback.innermost_ours()
    if inner:
        out.append("   innermost of ours: " + "; ".join(
            f"{_where(f)} ({c} of {looks} looks)" for f, c in inner[:3]))  # fmt: skip
    else:
        out.append(f"   no frame of msp_tui/, screens/ or adapters/ in {looks} look(s); Textual's"
                   f" work by look: {_textual_work(callback.samples)}")  # fmt: skip
    entry, caller = callback.entry()
    if entry is not None:
        called = f", called by {_where(caller)}" if caller else ""
        out.append(f"   entry: {_where(entry)}{called}")
    first = callback.samples[0]
    ours = [f for f in first if is_ours(f)]
    if ours:
        out.append("   our frames (first look, outermost first):")
        out += [f"      {_where(f)}: {_source(f)}" for f in ours[-12:]]
    others = [f for f in first if not is_ours(f)]
    shown = others if len(others) <= 24 else [*others[:8], None, *others[-15:]]
    out.append("   the rest of that stack (outermost first):")
    out += [f"      {_where(f)}" if f else "      ..." for f in shown]
    return out
