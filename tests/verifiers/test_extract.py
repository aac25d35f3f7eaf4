import time

import pytest

from rlvr.verifiers.extract import extract_code, extract_fenced, extract_final_answer, extract_sql, find_boxed


@pytest.mark.parametrize(
    "text, answers, method",
    [
        (r"so $\boxed{\frac{1}{2}}$.", (r"\frac{1}{2}",), "boxed"),
        (r"\boxed{\{1, 2\}}", (r"\{1, 2\}",), "boxed"),
        (r"\boxed{\boxed{7}}", ("7",), "boxed"),
        (r"\fbox{12}", ("12",), "boxed"),
        (r"\boxed 5.", ("5",), "boxed"),
        (
            "Final Answer: The final answer is $\\dfrac{3}{4}$. I hope it is correct.",
            (r"\dfrac{3}{4}",),
            "final_answer",
        ),
        ("He pays 3*4 = 12 dollars.\n#### 12", ("12",), "hash"),
        ("So the answer is 3.5.", ("3.5",), "answer_is"),
        ("The answer is: $x = 4$", ("x = 4",), "answer_is"),
        ("Adding up gives a total of\n\n**42**", ("42",), "bold"),
        ("2 + 3 = 5, so 7", ("7",), "last_number"),
        ("47+38=85", ("47+38=85",), "bare"),  # the whole output is one expression
        ("$\\frac13$", ("\\frac13",), "bare"),
        ("\\[ x \\ge 5 \\]", ("x \\ge 5",), "bare"),
        ("Answer \\( 9 \\)", ("9",), "last_number"),
        ("So $x = -5$.", ("x = -5",), "concluding"),  # a concluding sentence ending in math
        ("Therefore $x \\geq 5$ is the solution.", ("x \\geq 5",), "is_the_answer"),
        ("so 3 - 8 = -5", ("-5",), "last_number"),
        ("It costs -1,250.50", ("-1,250.50",), "last_number"),
    ],
)
def test_anchored_answers(text, answers, method):
    ext = extract_final_answer(text)
    assert (ext.answers, ext.method, ext.problem) == (answers, method, None)


def test_boxed_beats_weaker_anchors():
    assert extract_final_answer(r"The answer is 5. Actually \boxed{6}").answers == ("6",)


def test_all_boxes_are_returned_so_hedges_can_be_refused():
    assert extract_final_answer(r"\boxed{5} or maybe \boxed{6}").answers == ("5", "6")


def test_retraction_followed_by_new_answer_uses_the_new_one():
    ext = extract_final_answer("The answer is 5. Wait, that is wrong. The answer is 6.")
    assert ext.answers == ("6",)


@pytest.mark.parametrize(
    "text",
    [
        r"So \boxed{5}. Hmm, that's wrong, I made a mistake somewhere.",
        "The answer is 12. Scratch that.",
    ],
)
def test_retracted_final_answer_is_reported(text):
    ext = extract_final_answer(text)
    assert ext.problem == "retracted" and ext.answers == ()


def test_wait_alone_is_not_a_retraction():
    assert extract_final_answer(r"\boxed{5}. Wait, let me verify: 2+3=5. Yes.").answers == ("5",)


def test_last_number_hedge_returns_both_numbers():
    assert extract_final_answer("It is either 5 or 6").answers == ("5", "6")


def test_no_answer_and_disabled_fallback():
    assert extract_final_answer("I am not sure.").problem == "none"
    assert extract_final_answer("it is 5", fallback=None).problem == "none"
    assert extract_final_answer(r"\boxed{}").problem == "empty"
    assert extract_final_answer(None).problem == "none"  # type: ignore[arg-type]


def test_unbalanced_and_escaped_braces():
    assert find_boxed(r"\boxed{1") == []
    assert find_boxed(r"\boxed{\{1\}}")[0][2] == r"\{1\}"


@pytest.mark.parametrize(
    "text",
    [
        "\\boxed{" * 5000 + "}" * 5000,
        "\\boxed{1}" * 2000,
        "{" * 200_000,
        "x" * 1_000_000,
        "1 " * 300_000,
        "the answer is " * 50_000,
    ],
    ids=["nested-boxes", "2000-boxes", "open-braces", "1MB-text", "many-numbers", "many-anchors"],
)
def test_hostile_outputs_extract_quickly(text):
    t0 = time.perf_counter()
    extract_final_answer(text)
    assert time.perf_counter() - t0 < 1.0


def test_code_fences():
    text = "Here:\n```text\nnot code\n```\n```python\nprint(1)\n```\nand\n```py\nprint(2)\n```\n"
    assert extract_code(text) == "print(2)\n"
    assert extract_fenced("```\nbare\n```") == "bare\n"
    assert extract_code("```python\nunclosed = 1\n") == "unclosed = 1\n"
    assert extract_code("def f():\n    return 1") == "def f():\n    return 1"
    assert extract_fenced("no fences") is None


def test_sql_extraction():
    assert extract_sql("Query:\n```sql\nSELECT 1;\n```") == "SELECT 1;"
    assert extract_sql("We need the count.\nSELECT count(*) FROM t") == "SELECT count(*) FROM t"
    assert extract_sql("  select 2 ") == "select 2"


@pytest.mark.parametrize(
    ("text", "answers"),
    [
        ("So the answer is $\\boxed{42}$.\n#### 43", ("42", "43")),  # a weaker anchor after the box
        ("The answer is $\\boxed{42}$ (or 43 if we round).", ("42", "43")),
        ("$\\boxed{42}$\n\nWait, actually, I think it's 43.", ("42", "43")),
        ("$\\boxed{42}$. Hmm, no, it is 41.", ("42", "41")),
        # confirmations and restatements are not revisions
        ("$\\boxed{42}$. Wait, let me verify: 6 x 7 = 42. Yes.", ("42",)),
        ("$\\boxed{42}$\n\nFinal answer: 42", ("42", "42", "42")),
        ("\\boxed{7} or, equivalently, seven.", ("7",)),
        # several different boxes are steps when a closing "Final Answer" follows them all
        ("$= \\boxed{200}$, then $= \\boxed{255}$, total 10,455.\nFinal Answer: The final answer is $10,455$.", ("10,455",)),
    ],
)
def test_answers_revised_after_the_box_are_reported(text, answers):
    assert extract_final_answer(text).answers == answers


@pytest.mark.parametrize(
    ("text", "answers"),
    [
        ("<think>3/4</think>\n<answer>\\frac{3}{4}</answer>", ("\\frac{3}{4}",)),
        ("<think>x</think><answer>2 × 2 × 233</answer>", ("2 × 2 × 233",)),
        ("<answer>The answer is 12 apples.</answer>", ("12 apples",)),
        ("<answer>Tom has 42 apples in total.</answer>", ("42",)),
        ("<answer>$\\boxed{7}$</answer>", ("7",)),
        ("<think>first <answer>40</answer></think>\n<answer>42</answer>", ("42",)),  # scratch block
        ("<think>sum</think>\n<answer>42", ("42",)),  # "</answer>" was the stop sequence
        ("<answer>1</answer>\n<answer>2</answer>", ("1", "2")),  # two blocks: both graded
        ("<answer>5</answer> then \\boxed{6}", ("5", "6")),  # a later box revises the block
        ("<answer><answer>41</answer>", ("41",)),
        ("<think>sum</think> 42 apples</answer>", ("42 apples",)),  # "<answer>" prefilled by the prompt
        ("<answer>Giving away 3 leaves 39, and eating 1 leaves 38.</answer>", ("38",)),  # a derivation
    ],
)
def test_answer_blocks(text, answers):
    ext = extract_final_answer(text)
    assert (ext.answers, ext.method, ext.problem) == (answers, "answer_tag", None)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("<answer></answer>", "empty"),
        ("<answer>42. Wait, that's wrong.</answer>", "retracted"),
        ("<answer>42</answer> Hmm, that's wrong.", "retracted"),
    ],
)
def test_answer_block_problems(text, problem):
    assert extract_final_answer(text).problem == problem


def test_answer_blocks_inside_the_reasoning_are_scratch_work():
    ext = extract_final_answer("<think>I'll write <answer>5</answer>. No: 2+4.</think>\nSo \\boxed{6}")
    assert (ext.answers, ext.method) == (("6",), "boxed")


def test_long_unclosed_answer_block_is_not_an_answer():
    ext = extract_final_answer("<answer>" + "and so on " * 40 + "the total is 5 apples and")
    assert ext.method != "answer_tag"


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("Final Answer: The volume of $ABCDEFGH$ is 120.", "120"),
        ("(The final answer is 240)", "240"),
        ('He wrote "The final answer is 240" at the end.', "240"),
        ("<p>The final answer is 240</p>", "240"),
        ("(The final answer is $[0, 1)$)", "[0, 1)"),
        ("The answer is f(3) = 7.", "f(3) = 7"),
        ("Final Answer: The probability is $\\frac{3}{4}$.", "\\frac{3}{4}"),
    ],
)
def test_anchor_answer_stops_at_its_sentence_or_closer(text, answer):
    assert extract_final_answer(text).answers == (answer,)


@pytest.mark.parametrize(
    ("sentence", "value"),
    [
        ("The volume of $ABCDEFGH$ is 120 cubic units", "120 cubic units"),
        ("Tom has 42 apples in total", "42"),
        ("x = 5", "x = 5"),  # not a sentence
        ("12 apples", "12 apples"),
        ("Either 5 or 6 apples, depending", "Either 5 or 6 apples, depending"),  # a hedge stays whole
        ("240 if the sides are doubled", "240 if the sides are doubled"),  # a condition stays whole
        ("There are 3 boxes with 120 marbles", "There are 3 boxes with 120 marbles"),
    ],
)
def test_sentence_answer(sentence, value):
    from rlvr.verifiers.extract import sentence_answer

    assert sentence_answer(sentence) == value


@pytest.mark.parametrize(
    "text",
    [
        "I'm sorry, but I can't help with problem 5.",
        "Find the number of integers $n$ such that $1 \\le n \\le 100$ and",
        "The number of subsets is 2^5",
        "So the total is 3 * 14",
        "The roots are 1, 2",
        "What is 17 + 25?",
        "Step 1: read.\nStep 2",
        "Compute $\\frac{1}{2}+\\frac{1}{4}$.",
        "Let $x = 5$.",
        "If the total is 5",
        "What is $2+3$?",
        "The problem asks for $2+3$.",
    ],
)
def test_fallback_takes_only_a_number_that_ends_the_output(text):
    ext = extract_final_answer(text)
    assert (ext.answers, ext.problem) == ((), "none")


@pytest.mark.parametrize(("output", "reference"), [("-[0,1)", "1"), ("\\frac{1+\\sqrt{5}}{2}", "2"), ("I think 5", "6")])
def test_an_expression_is_never_read_as_its_last_digit(output, reference):
    from rlvr.types import Sample
    from rlvr.verifiers.math import MathVerifier

    assert MathVerifier().verify(Sample(output, reference)).status != "correct"
