"""The vocabulary for declaring hyperparameter constraints.

Every model declares, in its ``_parameter_constraints`` class attribute, the values each of
its hyperparameters accepts: a list of constraints per name, of which a valid value satisfies
at least one. ``fit`` checks every hyperparameter against them (never ``__init__``, as
scikit-learn requires) and raises an error naming the parameter, the model, the accepted
values and the value given::

    from charzoo.params import Fraction, Options, PositiveInt

    class CharMyModel(NeuralWindowLM):
        _parameter_constraints = {
            "n_embd": [PositiveInt],
            "dropout": [Fraction(closed="left")],
            "norm": [Options("layer", "rms"), None],
        }

Besides the objects of this module, a constraint list may hold ``None`` (the value ``None``
is accepted), a type such as ``list`` (any instance is accepted) or one of the strings
``"boolean"``, ``"random_state"`` (an int, a numpy random generator or ``None``) and
``"array-like"``.

A ``bool`` is refused where the constraints ask for a number (``True`` is an ``int`` to
Python, but ``n_embd=True`` is a mistake) unless the constraints also accept a boolean.

This is the only module of charzoo that touches scikit-learn's private constraint machinery
(``sklearn.utils._param_validation``): models and plugins import the names below, so a
change in scikit-learn is absorbed here.
"""

from __future__ import annotations

import inspect
from numbers import Integral, Real

import numpy as np
from sklearn.utils import _param_validation as _sk

__all__ = [
    "Fraction",
    "NonNegativeFloat",
    "NonNegativeInt",
    "Options",
    "PositiveFloat",
    "PositiveInt",
    "Range",
    "publish_signature",
    "validate_params",
]

_CLOSED = ("both", "left", "right", "neither")
_KINDS = {int: Integral, Integral: Integral, float: Real, Real: Real}


def Range(  # noqa: N802 - reads as a type in a constraint list
    kind: type,
    low: float | None = None,
    high: float | None = None,
    *,
    closed: str = "both",
) -> object:
    """Numbers of one kind between two bounds.

    Parameters
    ----------
    kind : {int, float}
        ``int`` accepts integers only (Python or numpy); ``float`` accepts every real number,
        integers included.
    low, high : number or None, default=None
        The bounds; ``None`` leaves that side unbounded.
    closed : {"both", "left", "right", "neither"}, default="both"
        Which bounds belong to the range. An unbounded side is always open.

    Returns
    -------
    constraint
        An object for a ``_parameter_constraints`` list; its ``str`` reads like
        "an int in the range [1, 10]".

    Raises
    ------
    ValueError
        For an unknown ``kind`` or ``closed``, or ``high <= low``.

    Examples
    --------
    >>> from charzoo.params import Range
    >>> str(Range(int, 1, 10))
    'an int in the range [1, 10]'
    >>> str(Range(float, 0, None, closed="neither"))
    'a float in the range (0.0, inf)'
    """
    if kind not in _KINDS:
        raise ValueError(f"kind must be int or float, got {kind!r}")
    if closed not in _CLOSED:
        raise ValueError(f"closed must be one of {_CLOSED}, got {closed!r}")
    left = closed in ("both", "left") and low is not None
    right = closed in ("both", "right") and high is not None
    sides = {(True, True): "both", (True, False): "left", (False, True): "right"}
    try:
        return _Range(_KINDS[kind], low, high, closed=sides.get((left, right), "neither"))
    except TypeError as exc:  # a float bound for an int range
        raise ValueError(f"Range({kind.__name__}, {low!r}, {high!r}): {exc}") from None


class _Range(_sk.Interval):
    """scikit-learn's interval constraint, shown as the ``Range`` call that builds it."""

    def __repr__(self) -> str:
        kind = "int" if self.type is Integral else "float"
        return f"Range({kind}, {self.left!r}, {self.right!r}, closed={self.closed!r})"


def Fraction(*, closed: str = "both") -> object:  # noqa: N802 - reads as a type
    """Real numbers between 0 and 1 (a probability, a proportion, a dropout rate).

    Parameters
    ----------
    closed : {"both", "left", "right", "neither"}, default="both"
        Which of 0 and 1 are accepted: ``"left"`` is [0, 1) (a dropout rate), ``"neither"``
        (0, 1) (a held-out fraction that must leave both parts non-empty).

    Returns
    -------
    constraint

    Examples
    --------
    >>> from charzoo.params import Fraction
    >>> str(Fraction(closed="left"))
    'a float in the range [0.0, 1.0)'
    """
    return Range(float, 0, 1, closed=closed)


#: Integers >= 1 (sizes, counts of layers or steps).
PositiveInt = Range(int, 1, None, closed="left")
#: Integers >= 0.
NonNegativeInt = Range(int, 0, None, closed="left")
#: Real numbers > 0 (a learning rate).
PositiveFloat = Range(float, 0, None, closed="neither")
#: Real numbers >= 0 (a weight decay, a smoothing count).
NonNegativeFloat = Range(float, 0, None, closed="left")


class Options(_sk.Options):
    """One of a fixed set of values.

    Parameters
    ----------
    *values : str, int, float or bool
        The accepted values, listed in error messages in this order. When all are strings
        the value must be a ``str``; when all are integers, an integer; and so on.

    Examples
    --------
    >>> from charzoo.params import Options
    >>> str(Options("random", "adjacent"))
    "one of 'random', 'adjacent'"
    >>> Options(2).is_satisfied_by(2), Options(2).is_satisfied_by("2")
    (True, False)
    """

    def __init__(self, *values: object) -> None:
        if not values:
            raise ValueError("Options needs at least one value")
        super().__init__(_common_type(values), set(values))
        self.values = tuple(dict.fromkeys(values))

    def __str__(self) -> str:
        return "one of " + ", ".join(repr(v) for v in self.values)

    def __repr__(self) -> str:
        return f"Options({', '.join(repr(v) for v in self.values)})"


def _common_type(values: tuple) -> type:
    """The narrowest of str, bool, int, float every value is an instance of (else object)."""
    for kind in (str, bool):
        if all(isinstance(v, kind) for v in values):
            return kind
    if any(isinstance(v, (bool, np.bool_)) for v in values):
        return object
    for kind in (Integral, Real):
        if all(isinstance(v, kind) for v in values):
            return kind
    return object


def validate_params(constraints: dict, params: dict, owner: str) -> None:
    """Check hyperparameter values against their constraints.

    Parameters
    ----------
    constraints : dict
        Parameter name -> list of constraints (a value must satisfy one of them). Parameters
        without an entry are not checked.
    params : dict
        Parameter name -> value, as ``get_params(deep=False)`` returns them.
    owner : str
        The model's name, used in the messages.

    Raises
    ------
    TypeError
        For a ``bool`` given where the constraints ask for a number.
    ValueError
        For any other value that satisfies none of its constraints (scikit-learn's
        ``InvalidParameterError``, a subclass of both ``ValueError`` and ``TypeError``). The
        message reads "The 'n_embd' parameter of CharMLP must be an int in the range
        [1, inf). Got 0 instead."
    """
    _reject_bools(constraints, params, owner)
    _sk.validate_parameter_constraints(constraints, params, caller_name=owner)


_BOOL_OK = ("boolean", "verbose", "no_validation")


def _reject_bools(constraints: dict, params: dict, owner: str) -> None:
    """``TypeError`` for a bool given where the constraints ask for a number."""
    for key, value in params.items():
        if not isinstance(value, (bool, np.bool_)) or key not in constraints:
            continue
        allowed = constraints[key]
        if allowed == "no_validation":
            continue
        if any(_accepts_bool(c) for c in allowed):
            continue
        numeric = any(
            c == "random_state" or getattr(c, "type", None) in (Integral, Real, int, float)
            for c in allowed
        )
        if not numeric:
            continue  # scikit-learn's own message names the expected type
        raise TypeError(
            f"The {key!r} parameter of {owner} must be a number, not the bool {value!r}; "
            f"pass an int or float (e.g. {key}=1) instead of True/False"
        )


def _accepts_bool(constraint: object) -> bool:
    if isinstance(constraint, str):
        return constraint in _BOOL_OK
    if isinstance(constraint, type):
        return constraint in (bool, object)
    return getattr(constraint, "type", None) in (bool, object)


# --------------------------------------------------------------------- inherited defaults
_DECLARED = "_charzoo_declared"  # on an __init__: its signature as written (None: declares none)
_UNSET = object()


def publish_signature(cls: type) -> None:
    """Publish on ``cls`` the merged ``__init__`` signature, applying ``_default_overrides``.

    A model declares its own hyperparameters as keyword arguments of ``__init__`` (storing
    each unchanged on ``self`` and passing ``**kwargs`` on to ``super().__init__``), and the
    inherited defaults it changes in a class attribute, without re-declaring them::

        class CharMyModel(NeuralWindowLM):
            _default_overrides = {"learning_rate": 3e-3, "max_steps": 5000}

            def __init__(self, *, n_embd: int = 16, **kwargs: object) -> None:
                super().__init__(**kwargs)
                self.n_embd = n_embd

    The class then gets an ``__init__`` whose signature lists every parameter of the class
    and its bases with its effective default (the nearest class's declaration or override
    wins), so ``inspect.signature``, ``get_params``, ``clone``, ``repr`` and the
    documentation see them all; constructing the model without a value for an overridden
    parameter passes the overridden default on. :class:`charzoo.base.CharLM` calls this for
    every subclass.

    Parameters
    ----------
    cls : type
        The class just created.

    Raises
    ------
    TypeError
        When ``_default_overrides`` is not a dict, names a parameter that the class does not
        have, or overrides a parameter that the class's own ``__init__`` declares (change
        the default there instead).
    """
    overrides = cls.__dict__.get("_default_overrides")
    init = cls.__dict__.get("__init__")
    if init is None and not overrides:
        return
    if overrides is not None and not isinstance(overrides, dict):
        raise TypeError(
            f"{cls.__name__}._default_overrides must be a dict of parameter name -> default, "
            f"got {type(overrides).__name__}"
        )
    if init is not None and _DECLARED not in getattr(init, "__dict__", {}):
        setattr(init, _DECLARED, inspect.signature(init))
    signature = _merged_signature(cls)
    if overrides:
        known = set(signature.parameters) - {"self"}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise TypeError(
                f"{cls.__name__}._default_overrides names {unknown}, which are not parameters "
                f"of {cls.__name__} (its parameters: {', '.join(sorted(known))})"
            )
        own = _declared(init) if init is not None else None
        clash = sorted(set(overrides) & set(own.parameters if own is not None else ()))
        if clash:
            raise TypeError(
                f"{cls.__name__}._default_overrides names {clash}, which its own __init__ "
                "declares; change the default in __init__ instead"
            )
        init = _init_with_defaults(cls, cls.__init__, dict(overrides), own, signature)
        cls.__init__ = init
    init.__signature__ = signature


def _declared(init: object) -> inspect.Signature | None:
    """The parameters an ``__init__`` declares itself (None for an overrides-only wrapper)."""
    declared = getattr(init, _DECLARED, _UNSET)
    return inspect.signature(init) if declared is _UNSET else declared


def _merged_signature(cls: type) -> inspect.Signature:
    """Every ``__init__`` parameter along the MRO; the nearest declaration or override gives
    the default. The first class declaring parameters keeps their kinds; inherited ones
    become keyword-only. Parameters are listed in the order they are first met."""
    order: dict[str, None] = {}
    declarations: dict[str, inspect.Parameter] = {}
    defaults: dict[str, object] = {}
    first = True
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        declared = None if init is None or klass is object else _declared(init)
        if declared is not None:
            for p in declared.parameters.values():
                if p.name == "self" or p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
                    continue
                order.setdefault(p.name)
                defaults.setdefault(p.name, p.default)
                declarations.setdefault(p.name, p if first else p.replace(kind=p.KEYWORD_ONLY))
            first = False
        for name, value in (klass.__dict__.get("_default_overrides") or {}).items():
            order.setdefault(name)
            defaults.setdefault(name, value)
    merged = [declarations[n].replace(default=defaults[n]) for n in order if n in declarations]
    self_param = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    ordered = sorted(merged, key=lambda p: p.kind == p.KEYWORD_ONLY)
    return inspect.Signature([self_param, *ordered])


def _init_with_defaults(
    cls: type,
    target: object,
    overrides: dict,
    own: inspect.Signature | None,
    signature: inspect.Signature,
) -> object:
    """An ``__init__`` calling ``target`` with ``overrides`` for the parameters not given."""
    positional = [
        p.name for p in signature.parameters.values() if p.kind == p.POSITIONAL_OR_KEYWORD
    ][1:]  # without self

    def __init__(self, *args: object, **kwargs: object) -> None:
        given = positional[: len(args)]
        for name, value in overrides.items():
            if name not in kwargs and name not in given:
                kwargs[name] = value
        target(self, *args, **kwargs)

    __init__.__module__ = cls.__module__
    __init__.__qualname__ = f"{cls.__qualname__}.__init__"
    __init__.__doc__ = target.__doc__ if own is not None else None
    setattr(__init__, _DECLARED, own)
    return __init__
