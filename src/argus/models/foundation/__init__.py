"""Foundation models: pipelines of several ONNX graphs (OCR, CLIP, SAM, depth, open-vocabulary detection)."""
