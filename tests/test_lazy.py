"""`validator.lazy.cached_property`: functools' on 3.12+, the same behaviour without 3.11's lock before."""

from __future__ import annotations

import threading

from validator.lazy import cached_property


class Counted:
    def __init__(self, value: int) -> None:
        self.value = value
        self.calls = 0

    @cached_property
    def doubled(self) -> int:
        """Twice the value."""
        self.calls += 1
        return self.value * 2


def test_a_value_is_computed_once_per_instance_and_kept_apart() -> None:
    a, b = Counted(1), Counted(5)
    assert (a.doubled, a.doubled, b.doubled) == (2, 2, 10)
    assert (a.calls, b.calls) == (1, 1)
    assert a.__dict__["doubled"] == 2


def test_the_class_gets_the_descriptor_with_its_doc() -> None:
    assert isinstance(Counted.__dict__["doubled"], cached_property)
    assert Counted.__dict__["doubled"].__doc__ == "Twice the value."


def test_threads_that_race_all_read_the_one_value() -> None:
    shared = Counted(21)
    seen: list[int] = []
    threads = [threading.Thread(target=lambda: seen.append(shared.doubled)) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == [42] * 16 and shared.doubled == 42
