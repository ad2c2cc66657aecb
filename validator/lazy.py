"""`cached_property` without the lock that Python 3.10 and 3.11 take on every first read.

There, functools.cached_property holds one RLock per property, shared by every instance of the class
(python/cpython issue 87634); 3.12 dropped it. The webhook reads a few dozen such properties of new objects
per request, each first read paying for the lock. This is 3.12's behaviour on every version: the value is
computed on first read and kept in the instance's `__dict__`. Two threads that race compute it twice and
keep one, which is harmless: every cached value here depends only on its (unchanging) instance.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, Generic, TypeVar, overload

T = TypeVar("T")

if sys.version_info >= (3, 12):
    from functools import cached_property
else:

    class cached_property(Generic[T]):  # noqa: N801  (the standard library's name, as a drop-in)
        def __init__(self, func: Callable[[Any], T]) -> None:
            self.func = func
            self.attrname = ""
            self.__doc__ = func.__doc__

        def __set_name__(self, owner: type, name: str) -> None:
            self.attrname = name

        @overload
        def __get__(self, instance: None, owner: type | None = None) -> cached_property[T]: ...

        @overload
        def __get__(self, instance: object, owner: type | None = None) -> T: ...

        def __get__(self, instance: object | None, owner: type | None = None) -> T | cached_property[T]:
            if instance is None:
                return self
            value = instance.__dict__[self.attrname] = self.func(instance)
            return value

__all__ = ["cached_property"]
