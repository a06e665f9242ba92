"""The models: the frozen open_clip teacher (`teacher`), the student and the align head (`student`), the teacher's
features with their on-disk caches (`features`), a trained student's export (`export`). The public names of
`teacher` and `student` are importable from here."""

from .student import AlignHead, Student, StudentOutput, build_student
from .teacher import (MINI_TEACHER, PAPER_TEACHER, TINY_TEACHER, WEIGHT_SUFFIXES, Teacher, build_tiny_teacher,
                      load_teacher)

__all__ = ["AlignHead", "MINI_TEACHER", "PAPER_TEACHER", "Student", "StudentOutput", "TINY_TEACHER", "Teacher",
           "WEIGHT_SUFFIXES", "build_student", "build_tiny_teacher", "load_teacher"]
