"""``mgops policy``: show the runbook's tables, validate files with line numbers."""

from __future__ import annotations

import json
from pathlib import Path

from mgops import exitcodes
from mgops.policy import default_policy
from tests.cli.conftest import Mgops


class TestPolicy:
    def test_default_holds_the_runbook_tables(self) -> None:
        """Seven services, four severities, five phases, five escalation levels."""
        policy = default_policy()

        assert 7 == len(policy.services)
        assert ("api-gateway", 3, 20) == (
            policy.services[0].name,
            policy.services[0].min_replicas,
            policy.services[0].max_replicas,
        )
        assert ["P1", "P2", "P3", "P4"] == [s.name for s in policy.severities]
        assert 7 == len(policy.phase("TRIAGE").checklist)
        assert [1, 2, 3, 4, 5] == [lv.level for lv in policy.escalation_levels]
        assert {"when-paged", "first-five-minutes", "if-real-incident"} == set(
            policy.paged_checklists
        )

    def test_show_json(self, mgops: Mgops) -> None:
        """``policy show services --json`` prints the table as data."""
        result = mgops("policy", "show", "services", "--json")

        services = json.loads(result.out)["services"]
        assert "SONA Engine" == services[4]["display_name"]

    def test_init_then_validate(self, mgops: Mgops, tmp_path: Path) -> None:
        """``init`` writes a copy that validates; it refuses to overwrite."""
        target = tmp_path / "p.yaml"

        first = mgops("policy", "init", str(target))
        again = mgops("policy", "init", str(target))
        checked = mgops("policy", "validate", str(target))

        assert exitcodes.OK == first.code
        assert exitcodes.USAGE == again.code
        assert "the policy is valid" in checked.out

    def test_error_names_field_and_line(self, mgops: Mgops, tmp_path: Path) -> None:
        """A bad value is reported with its field path and line number."""
        target = tmp_path / "p.yaml"
        mgops("policy", "init", str(target))
        text = target.read_text().replace("max_replicas: 20", "max_replicas: many", 1)
        target.write_text(text)
        line = text.splitlines().index("    max_replicas: many") + 1

        result = mgops("policy", "validate", str(target))

        assert exitcodes.USAGE == result.code
        assert f"p.yaml:{line}: services.0.max_replicas" in result.err.replace("\n", "")

    def test_not_yaml(self, mgops: Mgops, tmp_path: Path) -> None:
        """A file that is not YAML says so with the line."""
        target = tmp_path / "p.yaml"
        target.write_text("version: 1\nservices: [\n")

        result = mgops("policy", "validate", str(target))

        assert exitcodes.USAGE == result.code
        assert "is not valid YAML" in result.err


class TestPolicyFaults:
    def test_duplicate_key_is_refused_with_its_line(
        self, mgops: Mgops, tmp_path: Path
    ) -> None:
        """A key written twice is an error, not a silent last-one-wins."""
        target = tmp_path / "p.yaml"
        mgops("policy", "init", str(target))
        target.write_text(target.read_text() + "organisation: Someone Else\n")
        line = len(target.read_text().splitlines())

        result = mgops("policy", "validate", str(target))

        assert exitcodes.USAGE == result.code
        assert f"p.yaml:{line}: the key 'organisation' appears twice" in result.err
