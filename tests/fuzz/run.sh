#!/bin/sh
# tests/fuzz/run.sh BUILD SECONDS TARGET... -- `make fuzz`: runs each
# libFuzzer target BUILD/fuzz/TARGET for SECONDS seconds, one after the
# other, on its seed corpus tests/fuzz/corpus/TARGET/ (read only) and the
# inputs it found before, BUILD/corpus/TARGET/ (where new ones go).  A crash,
# leak, timeout or sanitizer report is written to BUILD/artifacts/TARGET/
# and fails the run; make it a regression input by copying it into
# tests/fuzz/regress/TARGET/ (replayed by make test) once it is fixed.
# Prints one line per target: executions, coverage, corpus size.
set -u
build=$1 seconds=$2
shift 2
status=0
for t in "$@"; do
    work="$build/corpus/$t" art="$build/artifacts/$t" log="$build/fuzz-$t.log"
    mkdir -p "$work" "$art"
    max_len=8192
    [ "$t" = config ] && max_len=16384
    ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:print_stacktrace=1" \
    UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1" \
        "$build/fuzz/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -max_len=$max_len -print_final_stats=1 -artifact_prefix="$art/" \
        "$work" "tests/fuzz/corpus/$t" >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    last=$(grep -E '^#[0-9]+' "$log" | tail -1)
    cov=$(printf '%s\n' "$last" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
    ft=$(printf '%s\n' "$last" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
    corp=$(printf '%s\n' "$last" | sed -n 's/.*corp: \([0-9]*\).*/\1/p')
    if [ $rc -eq 0 ]; then
        printf 'fuzz %-14s ok: %s runs (%s/s), cov %s, ft %s, corpus %s\n' \
            "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}"
    else
        status=1
        printf 'fuzz %-14s FAILED (exit %d) after %s runs; input in %s/, log %s:\n' \
            "$t" $rc "${execs:-?}" "$art" "$log"
        grep -E 'ERROR|runtime error|SUMMARY|^    #[0-9]+ .* in |fuzz:' "$log" | head -40 | sed 's/^/    /'
    fi
done
exit $status
