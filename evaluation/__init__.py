"""The paper's metrics on benchmarks: dataset readers, the synthetic benchmark, the report, the loop."""
