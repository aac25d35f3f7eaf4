"""MBPP-style records: ``entry_point`` plus plain top-level asserts that call the function by name
(no ``check(candidate)``). Real MBPP tasks (their reference code, CRLF line ends and all): the
reference solutions pass, wrong ones fail with a reason, and exploits still score 0."""

from __future__ import annotations

import pytest

from rlvr.sandbox import probe_isolation
from rlvr.types import Sample
from rlvr.verifiers.code import CodeVerifier

# (task_id, entry_point, reference code, test_list) as in mbpp.jsonl.
MBPP = [
    (2, "similar_elements",
     "def similar_elements(test_tup1, test_tup2):\r\n  res = tuple(set(test_tup1) & set(test_tup2))\r\n  return (res) ",
     ["assert similar_elements((3, 4, 5, 6),(5, 7, 4, 10)) == (4, 5)",
      "assert similar_elements((1, 2, 3, 4),(5, 4, 3, 7)) == (3, 4)",
      "assert similar_elements((11, 12, 14, 13),(17, 15, 14, 13)) == (13, 14)"]),
    (3, "is_not_prime",
     "import math\r\ndef is_not_prime(n):\r\n    result = False\r\n    for i in range(2,int(math.sqrt(n)) + 1):\r\n"
     "        if n % i == 0:\r\n            result = True\r\n    return result",
     ["assert is_not_prime(2) == False", "assert is_not_prime(10) == True", "assert is_not_prime(35) == True"]),
    (4, "heap_queue_largest",
     "import heapq as hq\r\ndef heap_queue_largest(nums,n):\r\n  largest_nums = hq.nlargest(n, nums)\r\n"
     "  return largest_nums",
     ["assert heap_queue_largest( [25, 35, 22, 85, 14, 65, 75, 22, 58],3)==[85, 75, 65] ",
      "assert heap_queue_largest( [25, 35, 22, 85, 14, 65, 75, 22, 58],2)==[85, 75] ",
      "assert heap_queue_largest( [25, 35, 22, 85, 14, 65, 75, 22, 58],5)==[85, 75, 65, 58, 35]"]),
    (6, "differ_At_One_Bit_Pos",
     "def is_Power_Of_Two (x): \r\n    return x and (not(x & (x - 1))) \r\ndef differ_At_One_Bit_Pos(a,b): \r\n"
     "    return is_Power_Of_Two(a ^ b)",
     ["assert differ_At_One_Bit_Pos(13,9) == True", "assert differ_At_One_Bit_Pos(15,8) == False",
      "assert differ_At_One_Bit_Pos(2,4) == False"]),
    (7, "find_char_long",
     "import re\r\ndef find_char_long(text):\r\n  return (re.findall(r\"\\b\\w{4,}\\b\", text))",
     ["assert find_char_long('Please move back to stream') == ['Please', 'move', 'back', 'stream']",
      "assert find_char_long('Jing Eco and Tech') == ['Jing', 'Tech']",
      "assert find_char_long('Jhingai wulu road Zone 3') == ['Jhingai', 'wulu', 'road', 'Zone']"]),
    (8, "square_nums",
     "def square_nums(nums):\r\n square_nums = list(map(lambda x: x ** 2, nums))\r\n return square_nums",
     ["assert square_nums([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])==[1, 4, 9, 16, 25, 36, 49, 64, 81, 100]",
      "assert square_nums([10,20,30])==([100,400,900])", "assert square_nums([12,15])==([144,225])"]),
    (17, "square_perimeter",
     "def square_perimeter(a):\r\n  perimeter=4*a\r\n  return perimeter",
     ["assert square_perimeter(10)==40", "assert square_perimeter(5)==20", "assert square_perimeter(4)==16"]),
]

# Wrong solutions per task: each fails at least one of the task's asserts.
WRONG = {
    2: "def similar_elements(a, b):\n    return tuple(set(a) | set(b))\n",
    3: "def is_not_prime(n):\n    return n % 2 == 0\n",  # 35 is odd and not prime
    4: "def heap_queue_largest(nums, n):\n    return sorted(nums)[:n]\n",
    6: "def differ_At_One_Bit_Pos(a, b):\n    return (a ^ b) != 0\n",
    7: "import re\ndef find_char_long(text):\n    return re.findall(r'\\b\\w{3,}\\b', text)\n",
    8: "def square_nums(nums):\n    return [x * 2 for x in nums]\n",
    17: "def square_perimeter(a):\n    return a * a\n",
}

# Exploits against asserts that call the function by name: each must score 0.
EXPLOITS = {
    "always_equal": "class E:\n    def __eq__(self, o): return True\n    def __bool__(self): return True\n"
                    "def {name}(*a):\n    return E()\n",
    "sys_exit": "import sys\nsys.exit(0)\ndef {name}(*a):\n    return None\n",
    "patch_assertion_error": "import builtins\nbuiltins.AssertionError = type('N', (Exception,), {{}})\n"
                             "def {name}(*a):\n    return None\n",
    "list_subclass": "class L(list):\n    def __eq__(self, o): return True\ndef {name}(*a):\n    return L()\n",
    "frame_walk": "import sys\ndef {name}(*a):\n    f = sys._getframe(1)\n    while f:\n"
                  "        f.f_globals['__rlvr_rec'] = None\n        f = f.f_back\n    return None\n",
}


def _iso() -> str:
    f = probe_isolation()
    ok = all(f.get(k) for k in ("userns", "netns", "pidns", "seccomp")) and f.get("landlock_abi")
    return "namespaces" if ok else "none"


@pytest.fixture(scope="module")
def v():
    verifier = CodeVerifier(isolation=_iso(), timeout=3.0, total_timeout=6.0)
    yield verifier
    verifier.close()


def _record(task: tuple, code: str) -> Sample:
    _, name, _, tests = task
    return Sample(code, None, {"tests": "\n".join(tests), "entry_point": name})


@pytest.mark.parametrize("task", MBPP, ids=[f"mbpp{t[0]}" for t in MBPP])
def test_reference_solution_passes(v, task):
    verdict = v.verify(_record(task, task[2]))
    assert verdict.status == "correct", verdict
    assert verdict.details["total"] == len(task[3]) == verdict.details["passed"]


@pytest.mark.parametrize("task", MBPP, ids=[f"mbpp{t[0]}" for t in MBPP])
def test_wrong_solution_fails_with_a_reason(v, task):
    verdict = v.verify(_record(task, WRONG[task[0]]))
    assert verdict.status == "incorrect" and verdict.score == 0.0, verdict
    assert verdict.reason.startswith("test ") and " failed: " in verdict.reason


@pytest.mark.parametrize("name", sorted(EXPLOITS))
def test_exploits_score_zero(v, name):
    for task in MBPP[:3]:
        verdict = v.verify(_record(task, EXPLOITS[name].format(name=task[1])))
        assert verdict.status in ("incorrect", "error", "timeout") and verdict.score == 0.0, (name, verdict)


def test_reason_names_the_failing_call(v):
    verdict = v.verify(_record(MBPP[-1], WRONG[17]))
    assert verdict.reason == "test 1 failed: square_perimeter(10) returned 100, expected 40"


def test_asserts_may_call_candidate_and_loops_count_as_tests(v):
    task = MBPP[-1]
    tests = ("assert candidate(10) == 40\n"
             "for a, want in [(5, 20), (4, 16)]:\n    assert square_perimeter(a) == want\n")
    good = v.verify(Sample(task[2], None, {"tests": tests, "entry_point": task[1]}))
    assert good.status == "correct" and good.details["total"] == 2 and good.details["assertions"] == 3
    bad = v.verify(Sample("def square_perimeter(a):\n    return 40\n", None,
                          {"tests": tests, "entry_point": task[1]}))
    assert bad.status == "incorrect" and bad.details["passed"] == 1 and bad.details["total"] == 2


def test_missing_function_and_records_without_any_test(v):
    task = MBPP[-1]
    missing = v.verify(Sample("def perimeter(a):\n    return 4 * a\n", None,
                              {"tests": "\n".join(task[3]), "entry_point": task[1]}))
    assert missing.status == "incorrect" and "no function named 'square_perimeter'" in missing.reason
    empty = v.verify(Sample(task[2], None, {"tests": "x = 1\n", "entry_point": task[1]}))
    assert empty.status == "error"
    assert "no check(candidate) function and no top-level assert" in empty.reason
