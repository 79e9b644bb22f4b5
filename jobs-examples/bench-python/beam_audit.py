"""InteractionAuditOneOffJob on Apache Beam, for a one-off comparison (not run in CI).

    jobs --store bench.redb export ExplorationModel -o explorations.jsonl
    python3 beam_audit.py explorations.jsonl out.jsonl [--runner DirectRunner|PrismRunner ...]

Reads the explorations `jobs export` wrote, groups "<exp_id> <state_name>" by interaction id,
and writes one line per interaction, `[interaction_id, [values...]]`, sorted by interaction
and, within one, by exploration id then state name: the same lines `jobs run` prints. Prints
the wall time of the pipeline (start to finish, the write included) on stderr.
"""

import json
import sys
import time

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions


def states(line):
    exploration = json.loads(line)
    if exploration.get("deleted"):
        return
    for name, state in exploration.get("states", {}).items():
        yield state["interaction"]["id"], (exploration["id"], name)


def render(group):
    interaction, values = group
    ordered = [f"{exp_id} {name}" for exp_id, name in sorted(values, key=lambda v: (v[0].encode(), v[1].encode()))]
    return interaction, json.dumps([interaction, ordered], ensure_ascii=False, separators=(",", ":"))


def main():
    source, target, *rest = sys.argv[1:]
    started = time.monotonic()
    with beam.Pipeline(options=PipelineOptions(rest)) as pipeline:
        (
            pipeline
            | beam.io.ReadFromText(source)
            | beam.FlatMap(states)
            | beam.GroupByKey()
            | beam.Map(render)
            | beam.combiners.ToList()
            | beam.Map(lambda lines: "\n".join(line for _, line in sorted(lines, key=lambda kv: kv[0].encode())))
            | beam.io.WriteToText(target, shard_name_template="")
        )
    print(f"beam: {time.monotonic() - started:.3f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
