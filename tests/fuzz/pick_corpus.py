#!/usr/bin/env python3
"""Keeps the committed fuzz corpus lean (scripts/fuzz.sh): reads a libFuzzer merge control
file (-merge=1 -merge_control_file=FILE, first corpus = the committed seeds) and prints
the new inputs that add the most coverage edges beyond the seeds, greedily, one path a
line with its gain: at most MAX_PICKS inputs, each adding at least MIN_NEW_EDGES edges
that the seeds and the earlier picks do not reach (ties: the smaller input).
usage: pick_corpus.py CONTROL_FILE MAX_PICKS MIN_NEW_EDGES"""
import os
import sys


def main() -> int:
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    control, max_picks, min_new = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    with open(control, encoding="utf-8", errors="surrogateescape") as f:
        lines = f.read().split("\n")
    n, first = int(lines[0]), int(lines[1])
    paths = lines[2:2 + n]
    cov = {}
    for line in lines[2 + n:]:
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "COV":
            cov[int(parts[1])] = {int(x) for x in parts[2:]}
    covered = set()
    for i in range(first):
        covered |= cov.get(i, set())
    seeds_edges = len(covered)
    candidates = [i for i in range(first, n) if i in cov]
    picked = []
    while len(picked) < max_picks:
        best, best_gain, best_size = None, 0, 0
        for i in candidates:
            gain = len(cov[i] - covered)
            size = os.path.getsize(paths[i])
            if gain > best_gain or (gain == best_gain and gain > 0 and size < best_size):
                best, best_gain, best_size = i, gain, size
        if best is None or best_gain < min_new:
            break
        covered |= cov[best]
        candidates.remove(best)
        picked.append((best_gain, paths[best]))
    for gain, path in picked:
        print(f"{gain} {path}")
    print(f"edges: seeds {seeds_edges}, with picks {len(covered)}, all new inputs "
          f"{len(set().union(covered, *(cov[i] for i in candidates)))}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
