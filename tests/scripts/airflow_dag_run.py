"""Loads pipelines/airflow_dag.py through Airflow's DagBag and runs it once with `dag.test()`.

Usage: AIRFLOW_HOME=... TFX_DCGAN_FLAGFILE=... python tests/scripts/airflow_dag_run.py OUT.json
(after `airflow db migrate`). Writes the DAG's structure, the DagRun's and every task's state,
and the TFX pipeline the DAG file built (local_runner.describe_pipeline) to OUT.json.
"""

import json
import os
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main(out_path: str) -> None:
    from airflow.models import DagBag

    dagbag = DagBag(
        dag_folder=os.path.join(REPO_ROOT, "pipelines", "airflow_dag.py"), include_examples=False
    )
    if dagbag.import_errors:
        raise SystemExit(f"DAG import errors: {dagbag.import_errors}")
    (dag_id,) = dagbag.dag_ids
    dag = dagbag.get_dag(dag_id)
    structure = {task.task_id: sorted(task.upstream_task_ids) for task in dag.tasks}

    from pipelines import local_runner

    module = sys.modules[next(name for name in sys.modules if name.endswith("airflow_dag"))]
    described = local_runner.describe_pipeline(module.PIPELINE)
    dag_run = dag.test()
    result = {
        "dag_id": dag_id,
        "structure": structure,
        "dag_run_state": str(dag_run.state),
        "task_states": {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()},
        "pipeline": described,
    }
    with open(out_path, "w") as stream:
        json.dump(result, stream, indent=2)


if __name__ == "__main__":
    main(sys.argv[1])
