"""One replace_layer near the middle of big keras.applications models, against what a person would
do instead in the same process: keras.models.clone_model, then set_weights(get_weights()). Then
every other edit, and the dry run of each, on one model (ResNet50 by default).

    python benchmarks/bench_replace.py [ResNet50 DenseNet201 EfficientNetB7 NASNetLarge]
                                       [--repeat 3] [--edits-on ResNet50]

Prints, per model: layers, weights (MB), the median time of each way (both in this process), their
ratio (ours / clone), and the peak extra resident memory of each. Times are taken in rounds, each
round running every way once, one right after the other, and a ratio is the median of the rounds'
ratios: on a shared machine the load changes from one minute to the next, and a ratio of two times
measured minutes apart measures that change as much as the edit. Memory is
measured in a fresh process per way (an allocator keeps what it freed, so a second measurement in
the same process would see less): build the model, then the highest RSS seen while the edit runs
minus the RSS before it. Both include the new model's own copy of the weights, so "one copy of the
weights" is the floor. Also the time of clone_model's own walk with its variables left without
values (each layer made from its config and called on the new tensors, which every rebuild of the
graph pays) over clone_model + set_weights: what an edit costs at the least before it creates its
variables. Also writes the table to benchmarks/results.md.
"""
import argparse
import gc
import os
import statistics
import subprocess
import sys
import threading
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import psutil  # noqa: E402

import keras_widget as kw  # noqa: E402
from keras_widget.weights import DeferredVariables  # noqa: E402

MODELS = ["ResNet50", "DenseNet201", "EfficientNetB7", "NASNetLarge"]


class PeakRSS:
    """Highest resident set size seen while the block runs (sampled every 5 ms), minus before."""

    def __enter__(self):
        self.proc = psutil.Process()
        gc.collect()
        self.before = self.proc.memory_info().rss
        self.peak = self.before
        self.running = True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self):
        while self.running:
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(0.005)

    def __exit__(self, *exc):
        self.running = False
        self.thread.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)
        self.extra = self.peak - self.before


def middle_conv(model):
    convs = [l for l in model.layers if type(l) is keras.layers.Conv2D]
    return convs[len(convs) // 2]


def clone_and_copy(model):
    new = keras.models.clone_model(model)
    new.set_weights(model.get_weights())
    return new


def clone_walk(model):
    """clone_model with its variables left without values: the part of its work (a copy of each
    layer from its config, called on the new tensors) that any rebuild of the graph pays too."""
    with DeferredVariables() as dv:
        keras.models.clone_model(model)
    dv.discard()


def paired(ways, repeat):
    """``{name: [time of each round]}``: ``repeat`` rounds, each running every way of ``ways``
    (``{name: fn}``) once, one after the other, so that the ways of one round share the machine's
    load of that moment."""
    times = {name: [] for name in ways}
    for _ in range(repeat):
        for name, fn in ways.items():
            gc.collect()
            t = time.perf_counter()
            out = fn()
            times[name].append(time.perf_counter() - t)
            del out
    gc.collect()
    return times


def ratio(times, a, b):
    """Median over the rounds of ``a``'s time over ``b``'s."""
    return statistics.median(x / y for x, y in zip(times[a], times[b]))


def build(name):
    model = getattr(keras.applications, name)(weights=None)
    target = middle_conv(model)

    def ours():
        return kw.replace_layer(model, target.name, keras.layers.Conv2D.from_config(
            target.get_config())).model

    return model, target, {"ours": ours, "clone": lambda: clone_and_copy(model),
                           "walk": lambda: clone_walk(model)}


def edits_of(model):
    """``{edit name: function of dry_run}``: every edit that applies to a one-input, one-output
    model without nested models, each at the middle Conv2D (or its activation)."""
    conv = middle_conv(model)
    act = next(l for l in model.layers[model.layers.index(conv):]
               if isinstance(l, keras.layers.Activation))
    size = tuple(model.inputs[0].shape[1:])
    smaller = (size[0] // 2, size[1] // 2) + size[2:]  # height and width halved
    return {
        "replace_layer": lambda dry: kw.replace_layer(
            model, conv.name, keras.layers.Conv2D.from_config(conv.get_config()), dry_run=dry),
        "insert_layer": lambda dry: kw.insert_layer(
            model, keras.layers.BatchNormalization(name="probe"), after=conv.name, dry_run=dry),
        "delete_layer": lambda dry: kw.delete_layer(model, act.name, dry_run=dry),
        "edit_layer": lambda dry: kw.edit_layer(model, conv.name, activation="relu", dry_run=dry),
        "rename_layer": lambda dry: kw.rename_layer(model, conv.name, "renamed", dry_run=dry),
        "set_input_shape": lambda dry: kw.set_input_shape(model, smaller, dry_run=dry),
        "replace_all": lambda dry: kw.replace_all(
            model, keras.layers.Activation,
            lambda layer: keras.layers.Activation("gelu", name=layer.name), dry_run=dry),
        "add_output": lambda dry: kw.add_output(model, conv.name, dry_run=dry),
    }


def bench_edits(name, repeat):
    """Every edit and its dry run on ``name``, each in rounds with clone_model + set_weights:
    ``[(edit, real s, dry s, real / clone, dry / real, clone s)]``."""
    model = getattr(keras.applications, name)(weights=None)
    edits = edits_of(model)
    clone_and_copy(model)
    rows = []
    for edit, run in edits.items():
        run(False), run(True)  # untimed first round
        gc.collect()
        times = paired({"clone": lambda: clone_and_copy(model), "real": lambda: run(False),
                        "dry": lambda: run(True)}, repeat)
        med = {k: statistics.median(v) for k, v in times.items()}
        rows.append((edit, med["real"], med["dry"], ratio(times, "real", "clone"),
                     ratio(times, "dry", "real"), med["clone"]))
        print(f"{name} {edit}: {med['real']:.3f} s, dry run {med['dry']:.3f} s, clone+set_weights "
              f"{med['clone']:.3f} s; ratio {rows[-1][3]:.2f}, dry / real {rows[-1][4]:.2f}",
              flush=True)
    return rows


def edits_table(name, rows):
    lines = [f"| edit on {name} | edit | clone_model + set_weights | ratio | dry run "
             "| dry run / edit |", "|---|---:|---:|---:|---:|---:|"]
    for edit, t_real, t_dry, r_real, r_dry, t_clone in rows:
        lines.append(f"| {edit} | {t_real:.2f} s | {t_clone:.2f} s | **{r_real:.2f}** | "
                     f"{t_dry:.2f} s | **{r_dry:.2f}** |")
    return "\n".join(lines)


def peak_memory(name, way):
    """Peak extra RSS (bytes) of one run of ``way`` on a freshly built model, in a new process."""
    out = subprocess.run([sys.executable, __file__, name, "--memory-of", way],
                         capture_output=True, text=True, check=True)
    return int(out.stdout.strip().splitlines()[-1])


def bench(name, repeat):
    model, target, ways = build(name)
    weights_mb = sum(v.numpy().nbytes for v in model.weights) / 2**20
    # One untimed round of each first: TensorFlow's one-off start-up costs are not the edit.
    for way in ways.values():
        way()
    gc.collect()
    times = paired(ways, repeat)
    row = dict(model=name, layers=len(model.layers), target=target.name, weights_mb=weights_mb,
               t_ours=statistics.median(times["ours"]), t_clone=statistics.median(times["clone"]),
               ratio=ratio(times, "ours", "clone"), walk=ratio(times, "walk", "clone"))
    del model, ways
    keras.backend.clear_session()
    gc.collect()
    row["m_ours"] = peak_memory(name, "ours") / 2**20
    row["m_clone"] = peak_memory(name, "clone") / 2**20
    return row


def table(rows):
    lines = ["| model | layers | weights | replace_layer | clone_model + set_weights | ratio "
             "| clone_model's walk alone / clone_model + set_weights "
             "| peak extra memory: ours / clone |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['layers']} | {r['weights_mb']:.0f} MB | "
                     f"{r['t_ours']:.2f} s | {r['t_clone']:.2f} s | **{r['ratio']:.2f}** | "
                     f"{r['walk']:.2f} | "
                     f"{r['m_ours']:.0f} MB / {r['m_clone']:.0f} MB |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", default=MODELS)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--edits-on", default="ResNet50",
                        help="the model every edit is measured on ('' for none)")
    parser.add_argument("--memory-of", choices=["ours", "clone"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_of:  # the child process of peak_memory()
        _, _, ways = build(args.models[0])
        with PeakRSS() as mem:
            ways[args.memory_of]()
        print(mem.extra)
        return
    rows = []
    for name in args.models:
        row = bench(name, args.repeat)
        rows.append(row)
        print(f"{name}: {row['layers']} layers, target {row['target']}: ours {row['t_ours']:.3f} s,"
              f" clone+set_weights {row['t_clone']:.3f} s, ratio {row['ratio']:.2f} (clone_model's "
              f"walk alone {row['walk']:.2f}); peak extra "
              f"memory {row['m_ours']:.0f} MB vs {row['m_clone']:.0f} MB "
              f"(weights {row['weights_mb']:.0f} MB)", flush=True)
    text = table(rows) if rows else ""
    if args.edits_on:
        text += "\n\n" + edits_table(args.edits_on, bench_edits(args.edits_on, args.repeat))
    load = os.getloadavg()[0]
    print(text)
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results.md")
    with open(out, "w") as f:
        f.write(f"Measured {time.strftime('%Y-%m-%d')} on {os.cpu_count()} cores (load average "
                f"{load:.1f} when it ended), Keras {keras.__version__}, median of {args.repeat} "
                f"rounds (each round runs the ways compared one after the other; a ratio is the "
                f"median of the rounds' ratios).\n\n{text}\n")


if __name__ == "__main__":
    main()
