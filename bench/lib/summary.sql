-- The end of a psql benchmark: its summary lines, written to the file run.sh
-- names in the variable summary_file (bench name|what|median|low|high|op|threshold).
\pset format unaligned
\pset tuples_only on
SELECT :'bench_name', what, round(median::numeric, 3), round(low::numeric, 3), round(high::numeric, 3), op, threshold
FROM bench.summary \g :summary_file
\pset format aligned
\pset tuples_only off
