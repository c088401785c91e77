"""Environment Secrets Store: secrets from the server's environment, only those the operator lists.

The reference reads any variable the definition names. Argus reads only names in
``ARGUS_WORKFLOW_SECRET_VARIABLES`` (none by default), so a workflow cannot fish the server's own keys out of
its environment; any other name is a 403 naming the setting.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from argus.workflows.blocks.base import Block, BlockManifest, OutputDefinition, block_config
from argus.workflows.kinds import SECRET_KIND


class EnvironmentSecretsStoreManifest(BlockManifest):
    model_config = block_config(name="Environment Secrets Store", category="secrets_provider",
                                description="Hand workflow steps secrets kept in the server's environment.")
    type: Literal["roboflow_core/environment_secrets_store@v1"]
    variables_storing_secrets: list[str] = Field(min_length=1)

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="*")]

    def get_actual_outputs(self) -> list[OutputDefinition]:
        return [OutputDefinition(name=name.lower(), kind=[SECRET_KIND]) for name in self.variables_storing_secrets]


class EnvironmentSecretsStoreBlockV1(Block):
    manifest_class = EnvironmentSecretsStoreManifest

    def run(self, variables_storing_secrets: list[str]) -> dict[str, Any]:
        settings = self.context.settings
        return {name.lower(): settings.workflow_secret(name) for name in variables_storing_secrets}
