#!/usr/bin/env bash
# Profile-guided optimisation of the dense benchmark network (100 -> 3 x 512, float32), by hand on
# Brian2's generated project: built with Brian2's flags and timed, rebuilt with -fprofile-generate and run
# once, rebuilt with -fprofile-use and timed (medians of 5 runs of the simulation loop).
#   bash benchmarks/pgo.sh      (about 2 minutes)
set -e
cd "$(dirname "$0")/.."
D=$(mktemp -d /tmp/decolle_pgo_XXXX)
.venv/bin/python - "$D" <<'PY'
import sys
sys.path.insert(0, "benchmarks")
import dense
from brian_decolle import devices
from brian_decolle.devices import Target
Target("cpp_standalone", sys.argv[1], precision="float32").select()
dense.network(512, 500).run()
devices.build(run=False)
PY
cd "$D"
runs() { for i in 1 2 3 4 5; do ./main > /dev/null; cut -d' ' -f1 results/last_run_info.txt; done | sort -n | sed -n 3p; }
echo "plain (Brian2's flags): median $(runs) s"
cp makefile makefile.plain
sed -i 's/^OPTIMISATIONS = \(.*\)$/OPTIMISATIONS = \1 -fprofile-generate/; s/^LFLAGS = \(.*\)$/LFLAGS = \1 -fprofile-generate/' makefile
make clean > /dev/null; make -j2 > /dev/null 2>&1; ./main > /dev/null
cp makefile.plain makefile
sed -i 's/^OPTIMISATIONS = \(.*\)$/OPTIMISATIONS = \1 -fprofile-use -fprofile-correction/' makefile
find . -name "*.o" -delete; rm -f main; make -j2 > /dev/null 2>&1
echo "profile-guided: median $(runs) s"
cd /; rm -rf "$D"
