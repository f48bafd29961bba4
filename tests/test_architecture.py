"""Dependencies point one way (STYLE.md): checked with import-linter's contracts in .importlinter."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_hold():
    result = subprocess.run([str(Path(sys.executable).parent / "lint-imports"), "--config", str(ROOT / ".importlinter")],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_services_import_each_other_without_cycles():
    """Study settings are read by one module (services.study_settings) that the others use, so no
    service reaches itself through its imports (at module level or inside a function)."""
    import grimp

    graph = grimp.build_graph("backend", include_external_packages=False)
    services = sorted(module for module in graph.find_children("backend.services"))
    cycles = []
    for importer in services:
        for imported in graph.find_modules_directly_imported_by(importer):
            if imported in services and graph.find_shortest_chain(importer=imported, imported=importer):
                cycles.append(f"{importer} <-> {imported}")
    assert cycles == []
