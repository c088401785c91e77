"""The stream API's source guard: files only under ARGUS_MEDIA_DIR (symlinks resolved), never ARGUS_HOME."""

from __future__ import annotations

from pathlib import Path

import pytest

from argus.errors import ForbiddenError
from argus.inputs.source_guard import check_source
from argus.settings import Settings


@pytest.fixture
def media(tmp_path: Path) -> Path:
    folder = tmp_path / "media"
    folder.mkdir()
    (folder / "clip.mp4").write_bytes(b"x")
    (folder / "escape.mp4").symlink_to("/etc/passwd")
    return folder


def test_files_under_the_media_folder_come_back_resolved(media: Path, tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", media_dir=media)
    assert check_source("clip.mp4", settings) == str(media.resolve() / "clip.mp4")
    assert check_source(str(media / "clip.mp4"), settings) == str(media.resolve() / "clip.mp4")
    assert check_source(str(media / "frames_%04d.png"), settings) == str(media.resolve() / "frames_%04d.png")
    assert check_source(3, settings) == 3  # a webcam


@pytest.mark.parametrize("reference", ["escape.mp4", "../home/argus.db", "/etc/passwd", "sub/../../x.mp4",
                                       "/etc/*.conf"])
def test_paths_that_leave_the_media_folder_are_refused(media: Path, tmp_path: Path, reference: str) -> None:
    with pytest.raises(ForbiddenError, match="outside the media folder"):
        check_source(reference, Settings(home=tmp_path / "home", media_dir=media))


def test_argus_home_is_never_served_even_inside_the_media_folder(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", media_dir=tmp_path)
    with pytest.raises(ForbiddenError, match="ARGUS_HOME"):
        check_source(str(tmp_path / "home" / "argus.db"), settings)


def test_without_a_media_folder_every_path_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ForbiddenError, match="ARGUS_MEDIA_DIR"):
        check_source("clip.mp4", Settings(home=tmp_path))


@pytest.mark.parametrize("reference", ["rtsp://127.0.0.1/live", "http://[::1]/a.mp4", "rtmp://10.0.0.5/app",
                                       "https://169.254.169.254/x.mp4", "pipe:0", "concat:a|b", "data:,x"])
def test_private_hosts_and_other_schemes_are_refused(tmp_path: Path, reference: str) -> None:
    with pytest.raises(ForbiddenError):
        check_source(reference, Settings(home=tmp_path))
    if reference.startswith(("rtsp", "http", "rtmp")):
        assert check_source(reference, Settings(home=tmp_path, allow_private_urls=True)) == reference
