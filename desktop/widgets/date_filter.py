"""The date filter: any date, this year, last year, a year, or a custom from / to range.

It only says which range the user chose (a :class:`clipcore.dates.DateRange`); clipcore
applies it inside the search, before the k nearest are taken.
"""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import QDate, Signal
from PySide6.QtWidgets import QComboBox, QDateEdit, QHBoxLayout, QLabel, QWidget

__all__ = ["DateFilter", "YEARS_LISTED"]

YEARS_LISTED = 12     # years offered in the list, counting back from last year
CUSTOM = "custom"


class DateFilter(QWidget):
    """``changed(DateRange | None)`` when the chosen range changes (None: any date)."""

    changed = Signal(object)

    def __init__(self, today: dt.date | None = None, parent=None):
        super().__init__(parent)
        self.today = today or dt.date.today()
        year = self.today.year
        self.choice = QComboBox()
        self.choice.setToolTip("Only photos taken in this period (EXIF date, else the file's date)")
        self.choice.addItem("Any date", None)
        self.choice.addItem(f"This year ({year})", year)
        self.choice.addItem(f"Last year ({year - 1})", year - 1)
        for y in range(year - 2, year - 1 - YEARS_LISTED, -1):
            self.choice.addItem(str(y), y)
        self.choice.addItem("Custom range…", CUSTOM)
        self.start = QDateEdit(calendarPopup=True, displayFormat="yyyy-MM-dd")
        self.end = QDateEdit(calendarPopup=True, displayFormat="yyyy-MM-dd")
        self.start.setDate(QDate(year, 1, 1))
        self.end.setDate(QDate(self.today.year, self.today.month, self.today.day))
        self.dash = QLabel("–")
        for widget, name in ((self.choice, "Date taken"), (self.start, "Taken from"),
                             (self.end, "Taken until")):
            widget.setAccessibleName(name)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        for w in (QLabel("Taken"), self.choice, self.start, self.dash, self.end):
            layout.addWidget(w)
        self._show_custom(False)
        self.choice.currentIndexChanged.connect(self._emit)
        self.start.dateChanged.connect(self._emit)
        self.end.dateChanged.connect(self._emit)

    def _show_custom(self, on: bool) -> None:
        for w in (self.start, self.dash, self.end):
            w.setVisible(on)

    def date_range(self):
        """The chosen :class:`clipcore.dates.DateRange`, or None for any date."""
        from clipcore.dates import DateRange, year_range

        data = self.choice.currentData()
        if data is None:
            return None
        if data == CUSTOM:
            a, b = self.start.date().toPython(), self.end.date().toPython()
            return DateRange(min(a, b), max(a, b))
        return year_range(int(data))

    def set_year(self, year: int | None) -> None:
        index = self.choice.findData(year)
        self.choice.setCurrentIndex(max(0, index))

    def set_custom(self, start: dt.date, end: dt.date) -> None:
        self.start.setDate(QDate(start.year, start.month, start.day))
        self.end.setDate(QDate(end.year, end.month, end.day))
        self.choice.setCurrentIndex(self.choice.findData(CUSTOM))

    def _emit(self, *_args) -> None:
        self._show_custom(self.choice.currentData() == CUSTOM)
        self.changed.emit(self.date_range())
