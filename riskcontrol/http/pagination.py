from rest_framework.pagination import PageNumberPagination


class PagePagination(PageNumberPagination):
    """`?page=` / `?page_size=` (max 200), with `count`, `next`, `previous`, `results`."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
