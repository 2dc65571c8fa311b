"""Weekly retraining: train, register, move to Staging, and check what Production serves."""

from datetime import datetime

import mlflow
from airflow import DAG
from airflow.models import Variable
from airflow.operators.python import PythonOperator
from mlflow import MlflowClient
from mlflow_provider.operators.registry import TransitionModelVersionStageOperator

MODEL_NAME = "churn"


def register(**context):
    run_id = context["ti"].xcom_pull(task_ids="train")
    version = mlflow.register_model(f"runs:/{run_id}/model", MODEL_NAME)
    return version.version


def check_production(client: MlflowClient = None, **context):
    client = client or MlflowClient()
    stage = Variable.get("serving_stage", default_var="Production")
    model = mlflow.pyfunc.load_model(f"models:/{MODEL_NAME}/{stage}")
    live = client.get_latest_versions(MODEL_NAME, stages=["Production"])
    if not live:
        raise ValueError("nothing in Production")
    return model.metadata.run_id


with DAG("retrain_churn", start_date=datetime(2024, 1, 1), schedule="@weekly") as dag:
    register_task = PythonOperator(task_id="register", python_callable=register)
    to_staging = TransitionModelVersionStageOperator(
        task_id="to_staging",
        name=MODEL_NAME,
        version="{{ ti.xcom_pull(task_ids='register') }}",
        stage="Staging",
    )
    check = PythonOperator(task_id="check", python_callable=check_production)
    register_task >> to_staging >> check
