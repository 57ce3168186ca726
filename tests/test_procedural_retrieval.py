"""Finding the right procedure for a new task: the procedural plugin's rerank (task similarity
and key terms) through the same `recall` the server makes, on coding procedures distilled from
real SWE-agent trajectories (skipped without ../shared/data) and on small household ones."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from habitus.core.config import Settings
from habitus.core.models import CallContext
from habitus.core.service import MemoryService
from habitus.plugins.manager import PluginManager
from habitus.plugins.procedural import Trajectory, distill, read_swe_agent
from habitus.plugins.procedural.memory import find_procedures, store_procedures
from habitus.plugins.procedural.retrieval import key_terms, query_terms, task_description

pytestmark = pytest.mark.anyio

DATA = Path(
    os.environ.get("HABITUS_DATA_DIR") or Path(__file__).resolve().parents[2] / "shared" / "data"
)
SWE_AGENT = DATA / "swe-agent"
CTX = CallContext(project_scope="repo:example.com/acme/retrieval", client="pytest")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def _service(tmp_path: Path) -> MemoryService:
    service = await MemoryService.open(Settings(db=str(tmp_path / "store"), embedder="minilm"))
    manager = PluginManager(entry_points=()).load()  # the built-in plugins, as served
    service.hooks = manager

    async def get() -> Any:
        return service

    manager.bind(get)
    return service


def _household(task: str, steps: list[str], ident: str) -> Trajectory:
    return Trajectory.model_validate({
        "id": ident, "task": task, "source": "alfworld",
        "steps": [{"action": a, "observation": "OK."} for a in steps],
    })


@pytest.mark.fast
def test_query_terms_join_run_together_names_and_weigh_the_place() -> None:
    known = set(key_terms("look at alarmclock under the desklamp."))
    terms = query_terms("Look at an alarm clock under the desk lamp", known)
    assert "alarmclock" in terms and "desklamp" in terms and "desk" not in terms
    placed = query_terms("Put a keychain in the drawer")
    assert placed["drawer"] > placed["keychain"]
    assert key_terms("put a cellphone in dresser.")["phone"] == 0.5  # a piece: half a match
    assert "warm" in task_description({"task": "heat some mug", "task_type": "heat-then-place"})


async def test_household_synonyms_and_places_find_the_same_procedure(tmp_path: Path) -> None:
    trajectories = [
        _household("heat some mug and put it in coffeemachine.", [
            "go to countertop 1", "take mug 1 from countertop 1", "go to microwave 1",
            "heat mug 1 with microwave 1", "go to coffeemachine 1",
            "put mug 1 in/on coffeemachine 1"], "heat-mug"),
        _household("cool some mug and put it in coffeemachine.", [
            "go to countertop 1", "take mug 1 from countertop 1", "go to fridge 1",
            "cool mug 1 with fridge 1", "go to coffeemachine 1",
            "put mug 1 in/on coffeemachine 1"], "cool-mug"),
        _household("put some keychain on desk.", [
            "go to sofa 1", "take keychain 1 from sofa 1", "go to desk 1",
            "put keychain 1 in/on desk 1"], "keychain-desk"),
        _household("look at cellphone under the desklamp.", [
            "go to bed 1", "take cellphone 1 from bed 1", "go to sidetable 1",
            "use desklamp 1"], "phone-lamp"),
    ]
    service = await _service(tmp_path)
    try:
        await store_procedures(service, [distill(t) for t in trajectories], ctx=CTX)
        for query, expected in [
            ("Warm a mug and place it in the coffee machine", "heat-mug"),
            ("Chill a mug and put it in the coffee machine", "cool-mug"),
            ("Move a phone to the desk", "keychain-desk"),
            ("Examine a phone with the desk lamp", "phone-lamp"),
        ]:
            hits = await find_procedures(service, query, limit=4, ctx=CTX)
            assert hits[0].provenance == [expected], (query, [h.provenance for h in hits])
    finally:
        await service.close()


async def test_the_place_a_task_acts_on_is_matched_by_role(tmp_path: Path) -> None:
    """The place a query names is found in the procedures that put things there whatever the
    object, and partly in those whose trajectory acted there (searched, opened, used: the sink
    basin of a cleaning); a word that only names something else (the desk of a desk lamp) does
    not count as the place."""
    trajectories = [
        _household("put two spraybottle in drawer.", [
            "go to countertop 1", "take spraybottle 1 from countertop 1", "go to drawer 1",
            "open drawer 1", "put spraybottle 1 in/on drawer 1", "go to toilet 1",
            "take spraybottle 2 from toilet 1", "go to drawer 1",
            "put spraybottle 2 in/on drawer 1"], "spray-drawer"),
        _household("put some keychain on sofa.", [
            "go to drawer 1", "open drawer 1", "go to armchair 1",
            "take keychain 1 from armchair 1", "go to sofa 1", "put keychain 1 in/on sofa 1"],
            "keychain-sofa"),
        _household("clean some ladle and put it in cabinet.", [
            "go to countertop 1", "take ladle 1 from countertop 1", "go to sinkbasin 1",
            "clean ladle 1 with sinkbasin 1", "go to cabinet 1", "open cabinet 1",
            "put ladle 1 in/on cabinet 1"], "ladle-cabinet"),
        _household("put some pencil on shelf.", [
            "go to desk 1", "take pencil 1 from desk 1", "go to shelf 1",
            "put pencil 1 in/on shelf 1"], "pencil-shelf"),
        _household("look at book under the desklamp.", [
            "go to bed 1", "take book 1 from bed 1", "go to sidetable 1", "use desklamp 1"],
            "book-lamp"),
    ]
    service = await _service(tmp_path)
    try:
        await store_procedures(service, [distill(t) for t in trajectories], ctx=CTX)
        for query, expected in [
            # the object and a drawer searched, then a drawer as destination
            ("Put a keychain in the drawer", ["keychain-sofa", "spray-drawer"]),
            ("Put a spoon in the sink", ["ladle-cabinet"]),
            ("Move a book to the desk", ["pencil-shelf"]),
        ]:
            hits = await find_procedures(service, query, limit=5, ctx=CTX)
            found = [h.provenance[0] for h in hits[: len(expected)]]
            assert found == expected, (query, [h.provenance for h in hits])
    finally:
        await service.close()


@pytest.mark.skipif(not SWE_AGENT.is_dir(), reason=f"SWE-agent data not found at {SWE_AGENT}")
async def test_coding_tasks_find_their_procedure_first(tmp_path: Path) -> None:
    trajectories = [read_swe_agent(f) for f in sorted(SWE_AGENT.glob("*.traj"))]
    service = await _service(tmp_path)
    try:
        await store_procedures(service, [distill(t) for t in trajectories], ctx=CTX)
        for query, expected in [
            ("fix a rounding bug in a serializer field", "marshmallow-1867"),
            ("decrypt a file encrypted with a simple affine cipher", "BabyEncryption"),
            ("SyntaxError: invalid syntax, a missing colon in a python script",
             "missing_colon"),
            ("make the pixel representation attribute optional for the numpy pixel data "
             "handler", "pydicom-1458"),
            ("recover a deleted file from an image of a hard drive", "flash"),
            ("exploit a buffer overflow in a binary to get the flag", "warmup"),
        ]:
            hits = await find_procedures(service, query, limit=5, ctx=CTX)
            assert hits, query
            top = hits[0]
            found = " ".join(top.provenance) + " " + top.procedure.task
            if expected == "missing_colon":
                assert "missing_colon" in top.procedure.task, (query, top.provenance)
            else:
                assert expected in found, (query, [h.provenance for h in hits])
    finally:
        await service.close()
