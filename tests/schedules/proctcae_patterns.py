"""The grading patterns of the gradable PRO-CTCAE terms as ProAE's reference map lists them (F frequency,
S severity, I interference, A amount), by term number: the library tests derive each term's pattern
from its items and compare, and the grading tests take one term of each pattern through every row of
Basch 2021's table."""

README_PATTERNS = {
    "F": {16, 67},
    "S": {1, 2, 4, 6, 7, 15, 21, 25, 26, 28, 30, 36, 45, 60, 61, 66, 68, 71, 72, 80},
    "A": {27, 59},
    "FS": {9, 10, 11, 13, 14, 23, 74, 75, 77, 78},
    "FI": {18, 62, 63, 65},
    "SI": {3, 8, 19, 20, 39, 40, 41, 44, 46, 47, 52, 53},
    "FSI": {17, 22, 48, 49, 50, 51, 54, 55, 56},
}
