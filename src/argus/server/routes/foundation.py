"""Foundation-model routes in the reference's shapes: OCR (``/ocr/pp-ocr``), CLIP, SAM, depth.

Each parses its body, runs :class:`argus.runtime.foundation.FoundationService` in a worker thread beside the
disconnect watcher, and answers one body per image (a list when ``image`` was a list).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from argus.runtime.foundation import select_ocr
from argus.server.deps import get_state
from argus.server.disconnect import watch_disconnect
from argus.server.responses import ORJSONResponse
from argus.server.schemas import PpOcrRequest

router = APIRouter(tags=["foundation models"])


@router.post("/ocr/pp-ocr")
async def pp_ocr(request: Request, body: PpOcrRequest) -> ORJSONResponse:
    """Read text with PP-OCR: lines in reading order (boxes, confidences, text) and the joined text.

    ``pp_ocr_version_id`` (``det-rec``) or ``text_detection`` / ``text_recognition`` pick the stages as the
    reference does (``tiny``, ``small``, ``medium``, ``none``); with none of them the server's default OCR model
    (``ARGUS_OCR_MODEL``) reads the image.
    """
    state = get_state(request)
    selection = select_ocr(body.given(), state.settings.ocr_model)
    async with watch_disconnect(request) as gone:
        bodies = await run_in_threadpool(state.foundation.ocr, body.image_dicts(), selection, gone.is_set)
    return ORJSONResponse(bodies if body.is_batch else bodies[0])
