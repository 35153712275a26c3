from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


@login_required
def my_steps(request: HttpRequest) -> HttpResponse:
    return render(request, "base.html")


unit_queue = awaiting = done_by_me = launch = notifications = my_steps
