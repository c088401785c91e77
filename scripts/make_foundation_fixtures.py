"""Write the tiny foundation-model fixtures under tests/fixtures/foundation, with transformers' own outputs.

Each fixture is a model of the real architecture with small dimensions and random weights (seeded), saved
the way people get such models: exported with ``optimum-cli export onnx`` (optimum-onnx) or laid out as
transformers.js / onnx-community folders. Beside it, ``expected.npz`` holds what transformers' PyTorch forward
and post-processing give on fixed inputs: the oracle the tests hold Argus to.

Needs torch, transformers and optimum-onnx (and segment-anything for ``sam-repo``), which are not Argus's
dependencies:
    python3 -m venv /tmp/fixvenv && /tmp/fixvenv/bin/pip install torch==2.13.0 optimum-onnx==0.1.0 pillow
    /tmp/fixvenv/bin/pip install --no-deps segment-anything==1.0 && /tmp/fixvenv/bin/pip install scipy
    /tmp/fixvenv/bin/python scripts/make_foundation_fixtures.py clip
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "foundation"
SEED = 20261130
WORDS = ["a", "photo", "of", "cat", "dog", "car", "red", "blue", "green", "the", "astronaut", "coffee", "cup",
         "rocket", "motorbike", "person", "sky", "big", "small", "on"]
TEXTS = ["a photo of a cat", "a photo of a dog", "a red car", "the astronaut", "coffee cup on the table",
         "rocket in the sky", " ".join(["a big red dog on the green car"] * 4)]
"""Prompts; the last one is longer than the tiny model's 16-token context."""
CONTEXT = 16


def fixture_images() -> list[np.ndarray]:
    """Three RGB images of different sizes and content (written as PNG beside the expected outputs)."""
    rng = np.random.default_rng(SEED)
    gradient = np.stack([*np.meshgrid(np.linspace(0, 255, 64), np.linspace(0, 255, 48)), np.full((48, 64), 90.0)],
                        axis=-1).astype(np.uint8)
    noise = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
    blocks = np.zeros((30, 90, 3), np.uint8)
    blocks[:, :30] = (255, 0, 0)
    blocks[:, 30:60] = (0, 255, 0)
    blocks[:, 60:] = (0, 0, 255)
    return [gradient, noise, blocks]


def clip_tokenizer(folder: Path) -> None:
    """A CLIP byte-level BPE tokenizer over a small vocabulary, saved as the fast tokenizer.json."""
    from transformers import CLIPTokenizer, CLIPTokenizerFast
    from transformers.models.clip.tokenization_clip import bytes_to_unicode

    symbols = list(bytes_to_unicode().values())
    vocab: dict[str, int] = {}
    for token in symbols + [s + "</w>" for s in symbols]:
        vocab.setdefault(token, len(vocab))
    merges = []
    for word in WORDS:
        pieces = list(word[:-1]) + [word[-1] + "</w>"]
        while len(pieces) > 1:
            merges.append(f"{pieces[0]} {pieces[1]}")
            pieces = [pieces[0] + pieces[1]] + pieces[2:]
            vocab.setdefault(pieces[0], len(vocab))
    for special in ("<|startoftext|>", "<|endoftext|>"):
        vocab[special] = len(vocab)
    with tempfile.TemporaryDirectory() as scratch:
        (Path(scratch) / "vocab.json").write_text(json.dumps(vocab))
        (Path(scratch) / "merges.txt").write_text("#version: 0.2\n" + "\n".join(dict.fromkeys(merges)) + "\n")
        slow = CLIPTokenizer(str(Path(scratch) / "vocab.json"), str(Path(scratch) / "merges.txt"),
                             model_max_length=CONTEXT)
        slow.save_pretrained(scratch)
        fast = CLIPTokenizerFast.from_pretrained(scratch, model_max_length=CONTEXT)
    fast.save_pretrained(folder)


def tiny_clip(folder: Path) -> None:
    """A random tiny CLIPModel with its tokenizer and image processor, saved for export."""
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPTokenizerFast

    clip_tokenizer(folder)
    tokenizer = CLIPTokenizerFast.from_pretrained(folder)
    torch.manual_seed(SEED)
    config = CLIPConfig(
        text_config={"vocab_size": len(tokenizer), "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
                     "num_attention_heads": 2, "max_position_embeddings": CONTEXT,
                     "bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id,
                     "pad_token_id": tokenizer.pad_token_id, "projection_dim": 24},
        vision_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
                       "image_size": 32, "patch_size": 8, "projection_dim": 24},
        projection_dim=24)
    model = CLIPModel(config).eval()
    model.save_pretrained(folder)
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(folder)


def clip_expected(folder: Path, target: Path) -> None:
    """transformers' normalised image and text features of the fixture inputs."""
    import torch
    from PIL import Image
    from transformers import CLIPImageProcessor, CLIPModel, CLIPTokenizerFast

    model = CLIPModel.from_pretrained(folder).eval()
    processor = CLIPImageProcessor.from_pretrained(folder)
    tokenizer = CLIPTokenizerFast.from_pretrained(folder)
    images = fixture_images()
    for index, image in enumerate(images):
        Image.fromarray(image).save(target / f"image{index}.png")
    with torch.no_grad():
        pixels = processor(images=[Image.fromarray(i) for i in images], return_tensors="pt")["pixel_values"]
        image_features = model.get_image_features(pixel_values=pixels)
        text_features = []
        for text in TEXTS:  # one at a time: no padding, as Argus runs them
            tokens = tokenizer(text, truncation=True, max_length=CONTEXT, return_tensors="pt")
            text_features.append(model.get_text_features(**tokens)[0])
        text_embeds = torch.stack(text_features)
    image_embeds = torch.nn.functional.normalize(image_features, dim=-1).numpy()
    text_embeds = torch.nn.functional.normalize(text_embeds, dim=-1).numpy()
    np.savez(target / "expected.npz", image_embeds=image_embeds, text_embeds=text_embeds,
             similarity=image_embeds @ text_embeds.T, texts=np.array(TEXTS))


def export_clip_optimum(folder: Path, target: Path) -> None:
    """``optimum-cli export onnx --task zero-shot-image-classification``: one model.onnx with both towers."""
    from optimum.exporters.onnx import main_export

    main_export(str(folder), output=str(target), task="zero-shot-image-classification", opset=17)


def export_clip_transformers_js(folder: Path, target: Path) -> None:
    """The transformers.js layout: onnx/vision_model.onnx and onnx/text_model.onnx, configs at the top."""
    import torch
    from transformers import CLIPTextModelWithProjection, CLIPVisionModelWithProjection

    onnx_dir = target / "onnx"
    onnx_dir.mkdir(parents=True)
    vision = CLIPVisionModelWithProjection.from_pretrained(folder).eval()
    text = CLIPTextModelWithProjection.from_pretrained(folder).eval()
    torch.onnx.export(vision, (torch.zeros(1, 3, 32, 32),), str(onnx_dir / "vision_model.onnx"),
                      input_names=["pixel_values"], output_names=["image_embeds", "last_hidden_state"],
                      dynamic_axes={"pixel_values": {0: "batch"}, "image_embeds": {0: "batch"}}, opset_version=17,
                      dynamo=False)
    ids = torch.ones(1, 5, dtype=torch.int64)
    torch.onnx.export(text, (ids, torch.ones_like(ids)), str(onnx_dir / "text_model.onnx"),
                      input_names=["input_ids", "attention_mask"], output_names=["text_embeds", "last_hidden_state"],
                      dynamic_axes={"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"},
                                    "text_embeds": {0: "batch"}}, opset_version=17, dynamo=False)
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                 "preprocessor_config.json"):
        shutil.copyfile(folder / name, target / name)


def make_clip() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "model"
        folder.mkdir()
        tiny_clip(folder)
        for name, export in (("clip-optimum", export_clip_optimum), ("clip-transformers-js", export_clip_transformers_js)):
            target = OUT / name
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir(parents=True)
            export(folder, target)
        expected = OUT / "clip-expected"
        shutil.rmtree(expected, ignore_errors=True)
        expected.mkdir(parents=True)
        clip_expected(folder, expected)
    for leftover in OUT.glob("clip-optimum/*"):  # keep only what a user's export folder needs
        if leftover.name in ("vocab.json", "merges.txt"):
            leftover.unlink()


def tiny_depth_anything(folder: Path) -> None:
    """A random tiny Depth Anything (DINOv2 backbone, DPT head) with a DPTImageProcessor.

    V2 ships ``keep_aspect_ratio: true``; traced to ONNX, this tiny model keeps the input size it was traced at
    (its interpolation sizes become constants), so the fixture resizes to a fixed 56×56 instead. The
    keep-aspect rule is tested against transformers' numbers in tests/unit/models/test_depth.py.
    """
    import torch
    from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config, DPTImageProcessor

    torch.manual_seed(SEED)
    backbone = Dinov2Config(hidden_size=32, num_hidden_layers=4, num_attention_heads=2, intermediate_size=64,
                            image_size=28, patch_size=14, out_features=["stage1", "stage2", "stage3", "stage4"],
                            reshape_hidden_states=False)
    config = DepthAnythingConfig(backbone_config=backbone, reassemble_hidden_size=32, neck_hidden_sizes=[8, 16, 32, 32],
                                 fusion_hidden_size=16, head_hidden_size=8, patch_size=14)
    DepthAnythingForDepthEstimation(config).eval().save_pretrained(folder)
    DPTImageProcessor(size={"height": 56, "width": 56}, keep_aspect_ratio=False, ensure_multiple_of=14,
                      resample=3, image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225]
                      ).save_pretrained(folder)


def tiny_dpt(folder: Path) -> None:
    """A random tiny DPT (ViT backbone) for optimum's depth-estimation export, with a fixed-size processor."""
    import torch
    from transformers import DPTConfig, DPTForDepthEstimation, DPTImageProcessor

    torch.manual_seed(SEED)
    config = DPTConfig(hidden_size=32, num_hidden_layers=4, num_attention_heads=2, intermediate_size=64,
                       image_size=32, patch_size=8, backbone_out_indices=[0, 1, 2, 3], neck_hidden_sizes=[8, 16, 32, 32],
                       fusion_hidden_size=16, head_in_index=-1, reassemble_factors=[4, 2, 1, 0.5])
    DPTForDepthEstimation(config).eval().save_pretrained(folder)
    DPTImageProcessor(size={"height": 32, "width": 32}, keep_aspect_ratio=False, ensure_multiple_of=1,
                      resample=3).save_pretrained(folder)


def depth_expected(folder: Path, target: Path, model_class: str) -> None:
    """transformers' depth at each image's size, min-max normalised as the reference server does."""
    import torch
    import transformers
    from PIL import Image

    model = getattr(transformers, model_class).from_pretrained(folder).eval()
    processor = transformers.DPTImageProcessor.from_pretrained(folder)
    maps = {}
    for index, image in enumerate(fixture_images()):
        with torch.no_grad():
            inputs = processor(images=Image.fromarray(image), return_tensors="pt")
            outputs = model(**inputs)
        depth = processor.post_process_depth_estimation(outputs, target_sizes=[image.shape[:2]])[0]["predicted_depth"]
        depth = depth.numpy()
        maps[f"depth{index}"] = (depth - depth.min()) / (depth.max() - depth.min())
    np.savez(target / "expected.npz", **maps)


def export_onnx_community(folder: Path, target: Path, model_class: str) -> None:
    """The onnx-community layout: onnx/model.onnx (pixel_values → predicted_depth), configs at the top."""
    import torch
    import transformers

    model = getattr(transformers, model_class).from_pretrained(folder).eval()
    (target / "onnx").mkdir(parents=True)
    torch.onnx.export(model, (torch.zeros(1, 3, 56, 56),), str(target / "onnx" / "model.onnx"),
                      input_names=["pixel_values"], output_names=["predicted_depth"],
                      dynamic_axes={"pixel_values": {0: "batch", 2: "height", 3: "width"},
                                    "predicted_depth": {0: "batch", 1: "height", 2: "width"}},
                      opset_version=17, dynamo=False)
    for name in ("config.json", "preprocessor_config.json"):
        shutil.copyfile(folder / name, target / name)


def make_depth() -> None:
    from optimum.exporters.onnx import main_export

    for name, build, model_class in (("depth-anything-onnx-community", tiny_depth_anything,
                                      "DepthAnythingForDepthEstimation"),
                                     ("dpt-optimum", tiny_dpt, "DPTForDepthEstimation")):
        with tempfile.TemporaryDirectory() as scratch:
            folder = Path(scratch) / "model"
            folder.mkdir()
            build(folder)
            target = OUT / name
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir(parents=True)
            if name.endswith("optimum"):
                main_export(str(folder), output=str(target), task="depth-estimation", opset=17)
            else:
                export_onnx_community(folder, target, model_class)
            expected = OUT / f"{name}-expected"
            shutil.rmtree(expected, ignore_errors=True)
            expected.mkdir(parents=True)
            depth_expected(folder, expected, model_class)


SAM_PROMPTS = [[[20.0, 15.0]], [[10.0, 30.0], [35.0, 10.0]], [[70.0, 20.0]]]
SAM_LABELS = [[1], [1, 0], [1]]
"""Point prompts (x, y in image pixels) and their labels (1 positive, 0 negative) per fixture image."""


def make_sam() -> None:
    """A random tiny SAM exported by optimum (vision_encoder.onnx + prompt_encoder_mask_decoder.onnx), with
    transformers' masks (the best of three by predicted IoU) for the fixture images and prompts."""
    import torch
    from optimum.exporters.onnx import main_export
    from PIL import Image
    from transformers import (
        SamConfig,
        SamImageProcessor,
        SamMaskDecoderConfig,
        SamModel,
        SamProcessor,
        SamPromptEncoderConfig,
        SamVisionConfig,
    )

    torch.manual_seed(SEED)
    vision = SamVisionConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, mlp_dim=64, image_size=64,
                             patch_size=8, output_channels=16, window_size=2, global_attn_indexes=[1], num_pos_feats=8)
    prompt = SamPromptEncoderConfig(hidden_size=16, image_size=64, patch_size=8, mask_input_channels=4,
                                    num_point_embeddings=4)
    decoder = SamMaskDecoderConfig(hidden_size=16, num_hidden_layers=2, num_attention_heads=2, mlp_dim=32,
                                   iou_head_hidden_dim=16)
    config = SamConfig(vision_config=vision.to_dict(), prompt_encoder_config=prompt.to_dict(),
                       mask_decoder_config=decoder.to_dict())
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "model"
        model = SamModel(config).eval()
        model.save_pretrained(folder)
        image_processor = SamImageProcessor(size={"longest_edge": 64}, pad_size={"height": 64, "width": 64},
                                            mask_size={"longest_edge": 16}, mask_pad_size={"height": 16, "width": 16})
        image_processor.save_pretrained(folder)
        target = OUT / "sam-optimum"
        shutil.rmtree(target, ignore_errors=True)
        main_export(str(folder), output=str(target), task="feature-extraction", opset=17)
        processor = SamProcessor(image_processor)
        expected: dict[str, np.ndarray] = {}
        for index, (image, points, labels) in enumerate(zip(fixture_images(), SAM_PROMPTS, SAM_LABELS)):
            inputs = processor(images=Image.fromarray(image), input_points=[[points]], input_labels=[[labels]],
                               return_tensors="pt")
            with torch.no_grad():
                outputs = model(**inputs, multimask_output=True)
            masks = processor.image_processor.post_process_masks(outputs.pred_masks, inputs["original_sizes"],
                                                                 inputs["reshaped_input_sizes"])[0][0]
            scores = outputs.iou_scores[0, 0]
            best = int(scores.argmax())
            expected[f"mask{index}"] = masks[best].numpy()
            expected[f"score{index}"] = scores[best].numpy()
        destination = OUT / "sam-expected"
        shutil.rmtree(destination, ignore_errors=True)
        destination.mkdir(parents=True)
        np.savez_compressed(destination / "expected.npz", **expected)
        (destination / "prompts.json").write_text(json.dumps({"points": SAM_PROMPTS, "labels": SAM_LABELS}))


OWL_QUERIES = ["a cat", "a red car", "a photo of a dog"]
OWL_THRESHOLD = 0.0


def make_owl(variant: str = "owlvit") -> None:
    """A random tiny OWL-ViT (``owlvit``) or OWLv2 (``owlv2``) exported by optimum (zero-shot-object-detection: one
    model.onnx taking input_ids, attention_mask and pixel_values), with transformers' post-processed detections of
    the fixture images. OWLv2's boxes are relative to the image padded to a square, so they are scaled by its
    longer side; OWL-ViT also gets the reference's image-guided detections (OWL_EXAMPLES)."""
    import torch
    import transformers
    from optimum.exporters.onnx import main_export
    from PIL import Image
    from transformers import CLIPTokenizerFast

    prefix = "OwlViT" if variant == "owlvit" else "Owlv2"
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "model"
        folder.mkdir()
        clip_tokenizer(folder)
        tokenizer = CLIPTokenizerFast.from_pretrained(folder)
        torch.manual_seed(SEED)
        config = getattr(transformers, f"{prefix}Config")(
            text_config={"vocab_size": len(tokenizer), "hidden_size": 32, "intermediate_size": 64,
                         "num_hidden_layers": 2, "num_attention_heads": 2, "max_position_embeddings": CONTEXT,
                         "bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id,
                         "pad_token_id": tokenizer.pad_token_id},
            vision_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
                           "num_attention_heads": 2, "image_size": 32, "patch_size": 8},
            projection_dim=32)
        model = getattr(transformers, f"{prefix}ForObjectDetection")(config).eval()
        model.save_pretrained(folder)
        sizes = {"size": {"height": 32, "width": 32}}
        if variant == "owlvit":
            sizes["crop_size"] = {"height": 32, "width": 32}
        image_processor = getattr(transformers, f"{prefix}ImageProcessor")(**sizes)
        image_processor.save_pretrained(folder)
        target = OUT / f"{variant}-optimum"
        shutil.rmtree(target, ignore_errors=True)
        main_export(str(folder), output=str(target), task="zero-shot-object-detection", opset=17)
        for leftover in ("vocab.json", "merges.txt"):
            (target / leftover).unlink(missing_ok=True)
        processor = getattr(transformers, f"{prefix}Processor")(image_processor=image_processor, tokenizer=tokenizer)
        expected: dict[str, np.ndarray] = {}
        for index, image in enumerate(fixture_images()):
            inputs = processor(text=[OWL_QUERIES], images=Image.fromarray(image), return_tensors="pt",
                               truncation=True)
            with torch.no_grad():
                outputs = model(**inputs)
            side = max(image.shape[:2])
            target_size = image.shape[:2] if variant == "owlvit" else (side, side)
            result = processor.post_process_object_detection(outputs, threshold=OWL_THRESHOLD,
                                                              target_sizes=[target_size])[0]
            expected[f"boxes{index}"] = result["boxes"].numpy()
            expected[f"scores{index}"] = result["scores"].numpy()
            expected[f"labels{index}"] = result["labels"].numpy()
        destination = OUT / f"{variant}-expected"
        shutil.rmtree(destination, ignore_errors=True)
        destination.mkdir(parents=True)
        if variant == "owlvit":
            expected.update(owl_image_guided_expected(model, processor))
            (destination / "examples.json").write_text(json.dumps(OWL_EXAMPLES))
        np.savez(destination / "expected.npz", queries=np.array(OWL_QUERIES), **expected)


OWL_EXAMPLES = {"image": 0, "boxes": [{"x": 20, "y": 15, "w": 16, "h": 12, "cls": "block"},
                                      {"x": 45, "y": 30, "w": 20, "h": 14, "cls": "stripe"},
                                      {"x": 10, "y": 40, "w": 10, "h": 8, "cls": "block", "negative": True}],
                "iou_threshold": 0.05, "confidence": 0.5}
"""Image-guided prompts: boxes (centre, size in pixels) on fixture image 0, with the thresholds used."""


def owl_image_guided_expected(model: object, processor: object) -> dict[str, np.ndarray]:
    """The reference server's OWLv2 image-guided algorithm, on transformers' patch boxes and class embeddings.

    Boxes are relative to each image side, as OWL-ViT stretches the image (the reference, for OWLv2, divides by
    the longer side because OWLv2 pads to a square).
    """
    import torch
    from PIL import Image

    def patches(image: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        pixels = processor(images=Image.fromarray(image), return_tensors="pt")["pixel_values"]  # type: ignore[operator]
        with torch.no_grad():
            feature_map = model.image_embedder(pixel_values=pixels)[0]  # type: ignore[attr-defined]
            batch, height, width, dim = feature_map.shape
            features = feature_map.reshape(batch, height * width, dim)
            boxes = model.box_predictor(features, feature_map)[0]  # type: ignore[attr-defined]
            embeds = model.class_head.dense0(features)[0]  # type: ignore[attr-defined]
        return boxes, embeds / (torch.linalg.norm(embeds, dim=-1, keepdim=True) + 1e-6)

    def corners(boxes: torch.Tensor) -> torch.Tensor:
        cx, cy, w, h = boxes.unbind(-1)
        return torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dim=-1)

    def iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        top_left = torch.maximum(a[:, None, :2], b[None, :, :2])
        bottom_right = torch.minimum(a[:, None, 2:], b[None, :, 2:])
        inter = (bottom_right - top_left).clamp(min=0).prod(dim=2)
        area_a, area_b = (a[:, 2:] - a[:, :2]).prod(dim=1), (b[:, 2:] - b[:, :2]).prod(dim=1)
        return inter / (area_a[:, None] + area_b[None, :] - inter)

    def nms(boxes: torch.Tensor, scores: torch.Tensor, threshold: float) -> torch.Tensor:
        order, kept = scores.argsort(descending=True), []
        while len(order):
            kept.append(int(order[0]))
            order = order[1:][iou(boxes[order[:1]], boxes[order[1:]])[0] <= threshold]
        return torch.tensor(kept, dtype=torch.long)

    images, spec = fixture_images(), OWL_EXAMPLES
    threshold, confidence = spec["iou_threshold"], spec["confidence"]
    example = images[spec["image"]]
    height, width = example.shape[:2]
    boxes, embeds = patches(example)
    examples: dict[str, dict[bool, list[torch.Tensor]]] = {}
    for box in spec["boxes"]:
        query = torch.tensor([[box["x"] / width, box["y"] / height, box["w"] / width, box["h"] / height]])
        overlap = iou(corners(boxes), corners(query))[:, 0]
        best = int(overlap.argmax())
        if overlap[best] > threshold:
            examples.setdefault(box["cls"], {}).setdefault(not box.get("negative", False), []).append(embeds[best])
    names = sorted(examples)
    out: dict[str, np.ndarray] = {"guided_names": np.array(names)}
    for index, image in enumerate(images):
        image_boxes, image_embeds = patches(image)
        all_boxes, all_scores, all_labels = [], [], []
        for label, name in enumerate(names):
            found_boxes, found_scores, found_positive = [], [], []
            for positive, rows in examples[name].items():
                similarity = ((image_embeds @ torch.stack(rows).T).max(dim=1).values + 1) / 2
                hit = similarity > confidence
                found_boxes.append(corners(image_boxes)[hit])
                found_scores.append(similarity[hit])
                found_positive.append(torch.full((int(hit.sum()),), positive))
            class_boxes, class_scores = torch.cat(found_boxes), torch.cat(found_scores)
            keep = nms(class_boxes, class_scores, threshold)
            keep = keep[torch.cat(found_positive)[keep]]
            all_boxes.append(class_boxes[keep])
            all_scores.append(class_scores[keep])
            all_labels.append(torch.full((len(keep),), label))
        boxes_cat, scores_cat, labels_cat = torch.cat(all_boxes), torch.cat(all_scores), torch.cat(all_labels)
        keep = nms(boxes_cat, scores_cat, threshold)[:300]
        h, w = image.shape[:2]
        out[f"guided_boxes{index}"] = (boxes_cat[keep] * torch.tensor([w, h, w, h])).numpy()
        out[f"guided_scores{index}"] = scores_cat[keep].numpy()
        out[f"guided_labels{index}"] = labels_cat[keep].numpy()
    return out


SAM_REPO_PROMPTS = [
    {"points": [[20.0, 15.0]], "labels": [1], "box": None},
    {"points": [], "labels": [], "box": [8.0, 6.0, 30.0, 28.0]},
    {"points": [[60.0, 15.0]], "labels": [0], "box": [30.0, 5.0, 80.0, 25.0]},
]
"""Prompts for the segment-anything layout: points (x, y, pixels) with labels, and an x1, y1, x2, y2 box."""


def _stub_torchvision() -> None:
    """segment_anything imports torchvision for two image helpers; no torchvision matches torch 2.13's CPU build
    here, so the two are given their PIL equivalents (what torchvision does for PIL images)."""
    import sys
    import types

    from PIL import Image

    functional = types.ModuleType("torchvision.transforms.functional")
    functional.resize = lambda image, size: image.resize((size[1], size[0]), Image.Resampling.BILINEAR)  # type: ignore[attr-defined]
    functional.to_pil_image = lambda array: Image.fromarray(array)  # type: ignore[attr-defined]
    ops = types.ModuleType("torchvision.ops")
    boxes = types.ModuleType("torchvision.ops.boxes")
    boxes.batched_nms = boxes.box_area = None  # type: ignore[attr-defined]
    package = types.ModuleType("torchvision")
    transforms = types.ModuleType("torchvision.transforms")
    for name, module in (("torchvision", package), ("torchvision.transforms", transforms),
                         ("torchvision.transforms.functional", functional), ("torchvision.ops", ops),
                         ("torchvision.ops.boxes", boxes)):
        sys.modules[name] = module


def make_sam_repo() -> None:
    """A random tiny SAM of the segment-anything package, as samexporter lays it out (``*.encoder.onnx`` on the
    normalised, padded image; ``*.decoder.onnx`` being segment_anything's own ``SamOnnxModel``, which takes box
    corners as points labelled 2 and 3), with SamPredictor's masks (best of three by score) as the oracle."""
    _stub_torchvision()
    import torch
    from segment_anything.modeling import ImageEncoderViT, MaskDecoder, PromptEncoder, Sam, TwoWayTransformer
    from segment_anything.predictor import SamPredictor
    from segment_anything.utils.onnx import SamOnnxModel

    torch.manual_seed(SEED)
    sam = Sam(image_encoder=ImageEncoderViT(img_size=64, patch_size=8, embed_dim=32, depth=2, num_heads=2,
                                           out_chans=16, use_rel_pos=True, window_size=4, global_attn_indexes=(1,)),
              prompt_encoder=PromptEncoder(embed_dim=16, image_embedding_size=(8, 8), input_image_size=(64, 64),
                                           mask_in_chans=4),
              mask_decoder=MaskDecoder(transformer_dim=16, transformer=TwoWayTransformer(depth=2, embedding_dim=16,
                                                                                        mlp_dim=32, num_heads=2),
                                       iou_head_hidden_dim=16),
              pixel_mean=[123.675, 116.28, 103.53], pixel_std=[58.395, 57.12, 57.375]).eval()
    target = OUT / "sam-exporter"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    torch.onnx.export(sam.image_encoder, (torch.zeros(1, 3, 64, 64),), str(target / "sam_tiny.encoder.onnx"),
                      input_names=["input_image"], output_names=["image_embeddings"], opset_version=17,
                      dynamo=False)
    decoder = SamOnnxModel(sam, return_single_mask=False)
    dummy = {"image_embeddings": torch.randn(1, 16, 8, 8), "point_coords": torch.randint(0, 64, (1, 5, 2)).float(),
             "point_labels": torch.randint(0, 4, (1, 5)).float(), "mask_input": torch.randn(1, 1, 32, 32),
             "has_mask_input": torch.tensor([1.0]), "orig_im_size": torch.tensor([48.0, 64.0])}
    torch.onnx.export(decoder, tuple(dummy.values()), str(target / "sam_tiny.decoder.onnx"),
                      input_names=list(dummy), output_names=["masks", "iou_predictions", "low_res_masks"],
                      dynamic_axes={"point_coords": {1: "num_points"}, "point_labels": {1: "num_points"}},
                      opset_version=17, dynamo=False)
    predictor = SamPredictor(sam)
    expected: dict[str, np.ndarray] = {}
    for index, (image, prompt) in enumerate(zip(fixture_images(), SAM_REPO_PROMPTS)):
        predictor.set_image(image)
        points = np.array(prompt["points"], np.float32) if prompt["points"] else None
        labels = np.array(prompt["labels"]) if prompt["labels"] else None
        box = np.array(prompt["box"], np.float32) if prompt["box"] else None
        masks, scores, _ = predictor.predict(point_coords=points, point_labels=labels, box=box,
                                             multimask_output=True)
        best = int(np.argmax(scores))
        expected[f"mask{index}"], expected[f"score{index}"] = masks[best], scores[best]
    destination = OUT / "sam-exporter-expected"
    shutil.rmtree(destination, ignore_errors=True)
    destination.mkdir(parents=True)
    np.savez_compressed(destination / "expected.npz", **expected)
    (destination / "prompts.json").write_text(json.dumps(SAM_REPO_PROMPTS))


BENCH_OUT = Path("~/.cache/argus/bench-models").expanduser()


def make_bench() -> None:
    """Random models of the real sizes for benchmarks/foundation.py (not committed: hundreds of MB).

    CLIP ViT-B/32 at 224 (the reference's usual CLIP) as optimum's joint export, and SAM ViT-B at 1024 as optimum's
    two-graph export, both with random weights: speed depends on the architecture and sizes, not the values.
    """
    import torch
    from optimum.exporters.onnx import main_export
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, SamConfig, SamImageProcessor, SamModel

    torch.manual_seed(SEED)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "clip"
        folder.mkdir()
        clip_tokenizer(folder)
        config = CLIPConfig(text_config={"max_position_embeddings": 77},
                            vision_config={"image_size": 224, "patch_size": 32}, projection_dim=512)
        config.text_config.vocab_size = len(json.loads((folder / "tokenizer.json").read_text())["model"]["vocab"]) + 2
        CLIPModel(config).eval().save_pretrained(folder)
        CLIPImageProcessor(size={"shortest_edge": 224}, crop_size={"height": 224, "width": 224}).save_pretrained(folder)
        target = BENCH_OUT / "clip-vit-b-32"
        shutil.rmtree(target, ignore_errors=True)
        main_export(str(folder), output=str(target), task="zero-shot-image-classification", opset=17)

        folder = Path(scratch) / "sam"
        SamModel(SamConfig()).eval().save_pretrained(folder)  # the defaults are SAM ViT-B
        SamImageProcessor().save_pretrained(folder)
        target = BENCH_OUT / "sam-vit-b"
        shutil.rmtree(target, ignore_errors=True)
        main_export(str(folder), output=str(target), task="feature-extraction", opset=17)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kinds", nargs="+", choices=["clip", "depth", "sam", "sam-repo", "owl", "owlv2", "bench"])
    for kind in parser.parse_args().kinds:
        {"clip": make_clip, "depth": make_depth, "sam": make_sam, "sam-repo": make_sam_repo, "owl": make_owl,
         "owlv2": lambda: make_owl("owlv2"), "bench": make_bench}[kind]()


if __name__ == "__main__":
    main()
