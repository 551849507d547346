# The part of diff-match-patch CoGov uses (norms/diff.py): the package ships no types, and no stub package exists.

class diff_match_patch:
    DIFF_DELETE: int
    DIFF_INSERT: int
    DIFF_EQUAL: int
    Diff_Timeout: float
    def diff_main(self, text1: str, text2: str, checklines: bool = True, deadline: float | None = None) -> list[tuple[int, str]]: ...
    def diff_halfMatch(self, text1: str, text2: str) -> tuple[str, str, str, str, str] | None: ...
