"""From the retrieved passages to a checked, cited answer: the question's shape, the prompt, the
model's reply read claim by claim, each claim judged against its evidence, repaired or quoted,
and written out with one citation per exact sentence.
"""
