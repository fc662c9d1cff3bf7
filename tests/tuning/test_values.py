"""Normalisation: the value read back from the kernel compared in canonical form."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ncctl.tuning.cpuset import (
    MAX_CPUS,
    format_cpulist,
    format_cpumask,
    parse_cpulist,
    parse_cpumask,
)
from ncctl.tuning.kinds.boot import BootParam, split_isolcpus
from ncctl.tuning.kinds.boot_loader import parse_cmdline
from ncctl.tuning.values import ValueFormat, canonical, restore_form, same, selected, writable_form

cpu_sets = st.frozensets(st.integers(min_value=0, max_value=511), max_size=64)


def test_tcp_rmem_with_tabs_equals_spaces() -> None:
    read_back = "4096\t131072\t6291456\n"
    assert canonical(ValueFormat.TEXT, read_back) == "4096 131072 6291456"
    assert same(ValueFormat.TEXT, read_back, "4096  131072 6291456")
    assert not same(ValueFormat.TEXT, read_back, "4096 131072 6291457")


def test_selection_reads_the_bracketed_choice() -> None:
    assert selected("always madvise [never]\n") == "never"
    assert selected("always [madvise] never") == "madvise"
    assert selected("never\n") == "never"  # a file that shows only the value
    assert canonical(ValueFormat.SELECTION, "always defer defer+madvise [madvise] never") == (
        "madvise"
    )
    assert restore_form(ValueFormat.SELECTION, "always [madvise] never\n") == "madvise"
    assert restore_form(ValueFormat.TEXT, "4096\t131072\t6291456\n") == "4096\t131072\t6291456"


@pytest.mark.parametrize(
    ("text", "cpus"),
    [
        ("0-3,8", {0, 1, 2, 3, 8}),
        ("8,0-3", {0, 1, 2, 3, 8}),
        (" 0-1 \n", {0, 1}),
        ("", set()),
        ("(null)\n", set()),
        ("5", {5}),
        ("0-0", {0}),
    ],
)
def test_cpu_lists(text: str, cpus: set[int]) -> None:
    assert parse_cpulist(text) == cpus


@pytest.mark.parametrize(
    ("text", "cpus"),
    [
        ("ff", set(range(8))),
        ("0x3", {0, 1}),
        ("f\n", {0, 1, 2, 3}),
        ("00000000,000000ff", set(range(8))),
        ("1,00000000", {32}),
        ("0", set()),
    ],
)
def test_cpu_masks(text: str, cpus: set[int]) -> None:
    assert parse_cpumask(text) == cpus


def test_list_and_mask_of_the_same_cpus_are_the_same_value() -> None:
    assert canonical(ValueFormat.CPUMASK, "ff") == canonical(ValueFormat.CPULIST, "0-7")
    assert canonical(ValueFormat.CPUMASK, "0x109") == "0,3,8"
    assert canonical(ValueFormat.CPULIST, "8,0,3") == "0,3,8"
    assert writable_form(ValueFormat.CPUMASK, "0-3,8") == "10f"
    assert format_cpumask(range(40)) == "ff,ffffffff"


@pytest.mark.parametrize("bad", ["3-1", "a", "1,,2", "-1", "1-", str(MAX_CPUS), "1 2 x"])
def test_bad_cpu_lists_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_cpulist(bad)


@pytest.mark.parametrize("bad", ["", "xyz", "123456789", "ff,,ff", "0x"])
def test_bad_cpu_masks_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_cpumask(bad)


@given(cpu_sets)
def test_cpulist_round_trip(cpus: frozenset[int]) -> None:
    text = format_cpulist(cpus)
    assert parse_cpulist(text) == cpus
    assert format_cpulist(parse_cpulist(text)) == text


@given(cpu_sets)
def test_cpumask_round_trip(cpus: frozenset[int]) -> None:
    mask = format_cpumask(cpus)
    assert parse_cpumask(mask) == cpus
    assert format_cpumask(parse_cpumask(mask)) == mask


@given(cpu_sets)
def test_mask_and_list_agree(cpus: frozenset[int]) -> None:
    assert canonical(ValueFormat.CPUMASK, format_cpumask(cpus)) == format_cpulist(cpus)
    listed = writable_form(ValueFormat.CPULIST, format_cpulist(cpus))
    assert canonical(ValueFormat.CPULIST, listed) == format_cpulist(cpus)
    assert parse_cpumask(writable_form(ValueFormat.CPUMASK, format_cpulist(cpus))) == cpus


@pytest.mark.slow
@given(cpu_sets, st.integers(min_value=0, max_value=3), st.booleans())
def test_mask_padding_and_prefix_do_not_matter(
    cpus: frozenset[int], extra_groups: int, prefix: bool
) -> None:
    mask = format_cpumask(cpus)
    padded = ",".join(["00000000"] * extra_groups + [mask])
    assert parse_cpumask(("0x" if prefix else "") + padded) == cpus


@given(
    st.lists(st.tuples(st.integers(0, 300), st.integers(0, 20)), min_size=1, max_size=12),
    st.randoms(),
)
def test_any_spelling_of_a_list_normalises_to_one_text(
    ranges: list[tuple[int, int]], rnd: random.Random
) -> None:
    parts = [f"{lo}-{lo + width}" if width else str(lo) for lo, width in ranges]
    shuffled = list(parts)
    rnd.shuffle(shuffled)
    expected: set[int] = set()
    for lo, width in ranges:
        expected.update(range(lo, lo + width + 1))
    assert canonical(ValueFormat.CPULIST, ",".join(shuffled)) == format_cpulist(expected)
    assert canonical(ValueFormat.CPULIST, ",".join(parts)) == canonical(
        ValueFormat.CPULIST, ",".join(shuffled)
    )


def test_boot_parameters_compare_cpu_lists_and_flags_canonically() -> None:
    param = BootParam(id="boot:isolcpus", name="isolcpus", value="managed_irq,domain,2-3")
    assert param.matches({"isolcpus": "domain,managed_irq,2,3"})
    assert not param.matches({"isolcpus": "managed_irq,domain,2-4"})
    assert not param.matches({})
    flags, cpus = split_isolcpus("nohz,domain,1-3,8")
    assert flags == {"nohz", "domain"} and cpus == {1, 2, 3, 8}
    nohz = BootParam(id="boot:nohz_full", name="nohz_full", value="1-3")
    assert nohz.matches({"nohz_full": "1,2,3"})
    flag = BootParam(id="boot:nosoftlockup", name="nosoftlockup", value=None)
    assert flag.matches({"nosoftlockup": None}) and flag.token() == "nosoftlockup"


def test_cmdline_parsing_keeps_flags_and_last_value() -> None:
    assert parse_cmdline(["ro", "quiet", "isolcpus=1", "isolcpus=2-3"]) == {
        "ro": None,
        "quiet": None,
        "isolcpus": "2-3",
    }
