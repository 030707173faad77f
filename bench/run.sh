#!/usr/bin/env bash
# The stackc benchmark: N generated services x 3 environments, built cold, as a no-op, after
# one service's value changes and after a template every service uses changes; `build --check`
# on a fresh clone with no cache; `diff staging production`; the floor (copying the produced
# tree); plain Jinja2 (Python) rendering the same templates; and the peers, `kubectl
# kustomize` and `kapitan compile`, on the same objects. Prints a markdown table per N and
# place, and appends every median to a CSV for bench/plot.py. See docs/benchmark.md.
#
# usage: bench/run.sh [N...]          (default: 1000; or N="100 1000 3000 10000")
# env:   WHERE="tmpfs disk"  where the stack goes: tmpfs (/dev/shm) and/or disk (/tmp);
#                      BENCH_TMP=dir overrides both with one folder (default: tmpfs)
#        RUNS=5        runs per stackc measurement (the median is reported)
#        PEER_RUNS=3   runs per peer measurement
#        PEERS=0       skip kustomize and kapitan (plain Jinja2 always runs)
#        KAPITAN=path  the kapitan executable (default: `kapitan` on PATH, else
#                      /tmp/kapitan-venv/bin/kapitan); see docs/benchmark.md to install it
#        KAPITAN_MAX_N=1000  measure kapitan only up to this N (it takes ~50 s per run at
#                      N=1000 and grows linearly: at N=10,000 one run is ~9 minutes)
#        KUSTOMIZE_N="100 300"  measure kustomize at these N (default: N when N <= 300, else
#                      "100 300": kustomize grows faster than linearly and takes minutes at
#                      N=1000) and extrapolate to N with a power law fitted to the last two
#        CSV=file      where the medians go (default: bench/results.csv, appended)
#        KEEP=1        keep the temporary directories
#        PROFILE=dist  the cargo profile to measure (dist: what `cargo install --profile dist`
#                      builds, fat LTO; release: what `cargo run --release` builds)
set -euo pipefail

read -r -a NS <<<"${*:-${N:-1000}}"
RUNS=${RUNS:-5}
PEER_RUNS=${PEER_RUNS:-3}
PEERS=${PEERS:-1}
PROFILE=${PROFILE:-dist}
REPO=$(cd "$(dirname "$0")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$REPO/target}
CSV=${CSV:-$REPO/bench/results.csv}
if [[ -n ${BENCH_TMP:-} ]]; then WHERE=custom; else WHERE=${WHERE:-tmpfs}; fi

if ! /usr/bin/time -f %M true >/dev/null 2>&1; then
    echo "bench/run.sh needs GNU time as /usr/bin/time for peak memory: apt-get install -y time" >&2
    exit 2
fi

echo "building stackc and gen_stack (profile $PROFILE)..." >&2
(cd "$REPO" && cargo build --quiet --profile "$PROFILE" --bin stackc --example gen_stack)
STACKC=$TARGET/$PROFILE/stackc
GEN=$TARGET/$PROFILE/examples/gen_stack

place_dir() {
    case $1 in
        tmpfs) echo /dev/shm ;;
        disk) echo /tmp ;;
        custom) echo "$BENCH_TMP" ;;
        *) echo "unknown place $1 (tmpfs, disk)" >&2; exit 2 ;;
    esac
}

# measure LABEL OBJECTS -- COMMAND...: runs COMMAND once, appends "seconds max_rss_kib objects
# cpu_s" to $WORK/LABEL.runs. Wall time from bash's EPOCHREALTIME (microseconds); peak RSS
# and CPU time (user + system, all threads and children) from GNU time. Exit 1 is allowed
# for `diff` (it means "differences found").
measure() {
    local label=$1 objects=$2
    shift 3
    local start end status=0
    start=$EPOCHREALTIME
    /usr/bin/time -f "%M %U %S" -o "$WORK/rss" "$@" >/dev/null 2>"$WORK/stderr" || status=$?
    end=$EPOCHREALTIME
    if ((status != 0)) && ! [[ $label == diff && $status == 1 ]]; then
        echo "failed ($status): $*" >&2
        cat "$WORK/stderr" >&2
        exit 1
    fi
    read -r rss user sys < <(tail -n1 "$WORK/rss")
    echo "$(echo "$end - $start" | bc -l) $rss $objects $(echo "$user + $sys" | bc -l)" >>"$WORK/$label.runs"
}

median() { sort -g | awk '{ a[NR] = $0 } END { print a[int((NR + 1) / 2)] }'; }

# row LABEL DESCRIPTION: a table row from $WORK/LABEL.runs (median time, CPU and max RSS),
# also appended to the CSV.
declare -A SECONDS_OF CPU_OF
row() {
    local label=$1 what=$2 runs t rss objects cpu
    [[ -f $WORK/$label.runs ]] || return 0
    runs=$(wc -l <"$WORK/$label.runs")
    t=$(cut -d' ' -f1 "$WORK/$label.runs" | median)
    rss=$(cut -d' ' -f2 "$WORK/$label.runs" | median)
    objects=$(head -n1 "$WORK/$label.runs" | cut -d' ' -f3)
    cpu=$(cut -d' ' -f4 "$WORK/$label.runs" | median)
    SECONDS_OF[$label]=$t
    CPU_OF[$label]=$cpu
    printf '| %s | %d | %.3f | %.2f | %s | %s | %.0f |\n' "$what" "$runs" "$t" "$cpu" "$objects" \
        "$(awk -v o="$objects" -v t="$t" 'BEGIN { printf "%.0f", o / t }')" "$(echo "$rss / 1024" | bc -l)"
    echo "$N,$PLACE,$label,$t,$cpu,$((rss / 1024)),$objects" >>"$CSV"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a / b }'; }

[[ -f $CSV ]] || echo "n,place,measurement,wall_s,cpu_s,max_rss_mib,objects" >"$CSV"

for PLACE in $WHERE; do
for N in "${NS[@]}"; do
WORK=$(mktemp -d "$(place_dir "$PLACE")/stackc-bench.XXXXXX")
if [[ ${KEEP:-0} != 1 ]]; then trap 'rm -rf "$WORK"' EXIT; else echo "keeping $WORK" >&2; fi
echo "N=$N on $PLACE ($WORK)..." >&2
SECONDS_OF=() CPU_OF=()

STACK=$WORK/stack
"$GEN" --services "$N" "$STACK"
cd "$STACK"
build() { "$STACKC" -q -C "$STACK" build; }

# Objects: every rendered Kubernetes object (not the kustomization.yaml files).
build
OBJECTS=$(find out -name '*.yaml' ! -name kustomization.yaml | wc -l)
FILES=$(find out -type f | wc -l)
BYTES=$(du -sb out | cut -f1)

for _ in $(seq "$RUNS"); do
    rm -rf out .stackc-cache
    sync
    measure cold "$OBJECTS" -- "$STACKC" -q -C "$STACK" build
done

for _ in $(seq "$RUNS"); do
    sleep 1.1 # stamps within a second of the cache's save are verified by content
    measure noop "$OBJECTS" -- "$STACKC" -q -C "$STACK" build
done

# One service, one value: svc-0000's production replicas (its `env "production"` block),
# toggled 4 -> 5 -> 4 so every run changes something. Rewrites 1 object file.
for i in $(seq "$RUNS"); do
    if ((i % 2)); then from=4 to=5; else from=5 to=4; fi
    sed -i "/^service \"svc-0000\" /,/^}/ s/replicas $from\$/replicas $to/" stacks.kdl
    sleep 1.1
    measure service "$OBJECTS" -- "$STACKC" -q -C "$STACK" build
done

# One template every service uses: the ConfigMap's revision annotation, toggled 1 -> 2 -> 1.
# Re-renders every unit and rewrites 3N ConfigMap files.
for i in $(seq "$RUNS"); do
    if ((i % 2)); then from=1 to=2; else from=2 to=1; fi
    sed -i "s/revision: \"$from\"/revision: \"$to\"/" templates/web/configmap.yaml.j2
    sleep 1.1
    measure template "$OBJECTS" -- "$STACKC" -q -C "$STACK" build
done

# The floor: writing the same files (every file of out/, from the page cache) to a fresh folder.
for i in $(seq "$RUNS"); do
    rm -rf "$WORK/floor"
    sync
    measure floor "$OBJECTS" -- cp -r out "$WORK/floor"
done
rm -rf "$WORK/floor"

"$STACKC" -q -C "$STACK" build --check || { echo "correctness guard failed: build --check is not clean" >&2; exit 1; }

# `build --check` on a fresh clone: no cache, every file's stat data new, so every file of
# out/ is read and compared with what a build would write (what CI does).
if command -v git >/dev/null; then
    printf '.stackc-cache/\n' >.gitignore
    git init -q && git add -A && git -c user.name=bench -c user.email=bench@localhost commit -qm bench
    for _ in $(seq "$RUNS"); do
        rm -rf "$WORK/clone"
        git clone -q "$STACK" "$WORK/clone"
        sync
        measure check "$OBJECTS" -- "$STACKC" -q -C "$WORK/clone" build --check
    done
    rm -rf "$WORK/clone"
fi

# Two environments compared object by object, rendered fresh in memory.
for _ in $(seq "$RUNS"); do
    measure diff "$OBJECTS" -- "$STACKC" -q -C "$STACK" diff staging production --stat
done

# Plain Jinja2: the same templates and contexts, rendered and written by Python's Jinja2.
if python3 -c 'import jinja2' 2>/dev/null; then
    "$GEN" --services "$N" --jinja2 "$WORK/jinja2"
    for _ in $(seq "$RUNS"); do
        rm -rf "$WORK/jinja2/out"
        sync
        measure jinja2 "$((OBJECTS - 39))" -- python3 "$REPO/bench/jinja2_twin.py" "$WORK/jinja2"
    done
    rm -rf "$WORK/jinja2"
else
    echo "python3 has no jinja2 (pip install jinja2): the plain Jinja2 row is skipped" >&2
fi

# ------------------------------------------------------------------------------ peers

KUST_ROWS=()
KAPITAN_STATUS=""
if [[ $PEERS == 1 ]]; then
    if command -v kubectl >/dev/null; then
        kustomize_all() { for env in dev staging production; do kubectl kustomize "$1/overlays/$env" >/dev/null; done; }
        export -f kustomize_all
        # Per N: the default must not stick from the previous N of the same run.
        KUST_N=${KUSTOMIZE_N:-}
        if [[ -z $KUST_N ]]; then
            if ((N <= 300)); then KUST_N=$N; else KUST_N="100 300"; fi
        fi
        for n in $KUST_N; do
            "$GEN" --services "$n" --kustomize "$WORK/kustomize-$n"
            objs=$(( OBJECTS * n / N ))
            for _ in $(seq "$PEER_RUNS"); do
                measure "kustomize-$n" "$objs" -- bash -c 'kustomize_all "$1"' _ "$WORK/kustomize-$n"
            done
            KUST_ROWS+=("$n")
        done
    else
        echo "kubectl not found: kustomize skipped" >&2
    fi
    KAPITAN=${KAPITAN:-$(command -v kapitan || echo /tmp/kapitan-venv/bin/kapitan)}
    if [[ -x $KAPITAN ]] && ((N > ${KAPITAN_MAX_N:-1000})); then
        KAPITAN_STATUS="kapitan not measured at N=$N (KAPITAN_MAX_N=${KAPITAN_MAX_N:-1000}: see its rows at smaller N)"
    elif [[ -x $KAPITAN ]]; then
        "$GEN" --services "$N" --kapitan "$WORK/kapitan"
        for _ in $(seq "$PEER_RUNS"); do
            rm -rf "$WORK/kapitan/compiled"
            (cd "$WORK/kapitan" && measure kapitan "$OBJECTS" -- "$KAPITAN" compile)
        done
    else
        KAPITAN_STATUS="kapitan not found (set KAPITAN=...; python3 -m venv /tmp/kapitan-venv && /tmp/kapitan-venv/bin/pip install kapitan): skipped"
        echo "$KAPITAN_STATUS" >&2
    fi
    # Like with like: the peers' objects equal stackc's (checked at a small N: PyYAML is slow).
    if python3 -c 'import yaml' 2>/dev/null && command -v kubectl >/dev/null; then
        "$GEN" --services 30 "$WORK/eq-stack" && "$STACKC" -q -C "$WORK/eq-stack" build
        "$GEN" --services 30 --kustomize "$WORK/eq-kust"
        eq_kapitan=()
        if [[ -x $KAPITAN ]]; then
            "$GEN" --services 30 --kapitan "$WORK/eq-kapitan"
            (cd "$WORK/eq-kapitan" && "$KAPITAN" compile >/dev/null 2>&1)
            eq_kapitan=("$WORK/eq-kapitan")
        fi
        python3 "$REPO/bench/equivalence.py" "$WORK/eq-stack" "$WORK/eq-kust" "${eq_kapitan[@]}" >&2
    fi
fi

# ------------------------------------------------------------------------------ report

echo
echo "stackc benchmark: N=$N services x 3 environments = $OBJECTS objects, $FILES files, $((BYTES / 1024)) KiB in out/;"
echo "$(nproc) cores, $(uname -sr), $(df -T "$WORK" | awk 'NR == 2 { print $2 }') in $WORK ($PLACE), $("$STACKC" --version); median of the runs."
echo
echo "| measurement | runs | wall s | CPU s | objects | objects/s | max RSS MiB |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
row cold "stackc build, cold (no out/, no cache)"
row noop "stackc build, no-op"
row service "stackc build, one service's value changed"
row template "stackc build, one template used by every service changed"
row check "stackc build --check, fresh git clone (no cache)"
row diff "stackc diff staging production --stat"
row floor "floor: cp -r out/ (writing the same files)"
row jinja2 "plain Jinja2 (Python): render + write the service files"
for n in "${KUST_ROWS[@]}"; do
    row "kustomize-$n" "kubectl kustomize, 3 overlays, N=$n"
done
[[ -f $WORK/kapitan.runs ]] && row kapitan "kapitan compile (kadet), 3 targets"
echo
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a / b }'; }
echo "- cold build = $(ratio "${SECONDS_OF[cold]}" "${SECONDS_OF[floor]}") x floor (wall); no-op = $(ratio "${SECONDS_OF[noop]}" "${SECONDS_OF[cold]}") x cold"
[[ -n ${CPU_OF[jinja2]:-} ]] && echo "- cold build CPU = $(ratio "${CPU_OF[cold]}" "${CPU_OF[jinja2]}") x plain Jinja2's CPU"
if ((${#KUST_ROWS[@]})); then
    if [[ $KUST_N == "$N" ]]; then
        echo "- kubectl kustomize = $(ratio "${SECONDS_OF[kustomize-$N]}" "${SECONDS_OF[cold]}") x stackc cold"
    elif ((${#KUST_ROWS[@]} >= 2)); then
        a=${KUST_ROWS[-2]} b=${KUST_ROWS[-1]}
        est=$(awk -v ta="${SECONDS_OF[kustomize-$a]}" -v tb="${SECONDS_OF[kustomize-$b]}" -v a="$a" -v b="$b" -v N="$N" \
            'BEGIN { k = log(tb / ta) / log(b / a); printf "%.0f s (t ~ N^%.2f)", tb * exp(k * log(N / b)), k }')
        echo "- kubectl kustomize at N=$N, extrapolated from N=$a and N=$b with a power law: ~$est = $(ratio "${est%% *}" "${SECONDS_OF[cold]}") x stackc cold (a lower bound: its growth steepens with N)"
    fi
fi
[[ -n ${SECONDS_OF[kapitan]:-} ]] && echo "- kapitan compile = $(ratio "${SECONDS_OF[kapitan]}" "${SECONDS_OF[cold]}") x stackc cold"
[[ -n $KAPITAN_STATUS ]] && echo "- $KAPITAN_STATUS"
echo "- correctness guard: stackc build --check exits 0 after the runs"
cd "$REPO"
if [[ ${KEEP:-0} != 1 ]]; then rm -rf "$WORK"; fi
trap - EXIT
done
done
echo >&2
echo "medians appended to $CSV; plot: python3 bench/plot.py $CSV" >&2
