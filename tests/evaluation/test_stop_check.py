"""The stop check decodes a window of the last tokens each step and ends a row only on the whole output's text."""

from unlearn_core.evaluation.decoding import STOP_WINDOW_SLACK, stop_string_check

PIECES = {0: "b", 1: "q", 2: "\n", 3: "x"}


class CapitalisingDecoder:
    """Joins the pieces and capitalises the first character, as a decoder that renders a text's first token
    otherwise (a leading space dropped); records how many ids each call decoded."""

    def __init__(self) -> None:
        self.lengths: list[int] = []

    def __call__(self, ids: list[int]) -> str:
        self.lengths.append(len(ids))
        text = "".join(PIECES[i] for i in ids)
        return text[:1].upper() + text[1:]


def test_without_stop_strings_there_is_no_check() -> None:
    assert stop_string_check(CapitalisingDecoder(), []) is None
    assert stop_string_check(CapitalisingDecoder(), [""]) is None


def test_a_long_output_without_a_hit_decodes_only_the_window() -> None:
    decode = CapitalisingDecoder()
    check = stop_string_check(decode, ["\n\n"])
    window = 2 + STOP_WINDOW_SLACK
    assert check([0] * 40) is False
    assert decode.lengths == [window]  # not the 40 ids of the output


def test_a_hit_only_the_window_shows_is_refused_on_the_whole_text() -> None:
    decode = CapitalisingDecoder()
    check = stop_string_check(decode, ["Q"])
    window = 1 + STOP_WINDOW_SLACK
    ids = [0] * 10 + [1] + [0] * (window - 1)  # the window starts at "q", which it renders "Q"
    assert check(ids) is False  # the whole text "Bbbbbbbbbbqbbbbb" holds no "Q"
    assert decode.lengths == [window, len(ids)]


def test_a_stop_string_at_the_end_or_in_a_short_output_ends_the_row() -> None:
    decode = CapitalisingDecoder()
    check = stop_string_check(decode, ["never", "\n\n"])
    assert check([0] * 30 + [2, 2]) is True
    assert check([0, 2]) is False
    assert check([2, 2]) is True  # shorter than the window: the whole text at once
    assert check([3]) is False
