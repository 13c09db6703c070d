"""Dashboard routes, under `/dashboard/`."""


app_name = "dashboard"
urlpatterns: list[object] = []
