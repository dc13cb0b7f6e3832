"""spark-submit entry point that starts a SparkSession and stops it: Spark's fixed cost.

``bench/pipeline_scale.py`` submits it with the same master and options as the DAG's
jobs, to tell the JVM and session start-up apart from the work of the real jobs.
"""

from pyspark.sql import SparkSession

spark = SparkSession.builder.appName("caoskol-bench-noop").getOrCreate()
spark.range(1).count()  # one trivial job: the executors are really up
spark.stop()
