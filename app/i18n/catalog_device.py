"""The phone's own features (app/services/device.py): the camera and the position, their refusals in words;
the device's data protection (the lock screen's wrong-password limit)."""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
    "device.location.denied": (
        "未获得定位权限：请在提示时选择“允许”，或手动输入坐标",
        "Location permission was refused: allow it when asked, or type the coordinates",
    ),
    "device.location.denied_forever": (
        "定位权限已被关闭：请在手机的“设置 > 应用 > FieldVisit > 权限”中开启，或手动输入坐标",
        "Location is turned off for FieldVisit: allow it in the phone's Settings > Apps > FieldVisit > "
        "Permissions, or type the coordinates",
    ),
    "device.location.service_off": (
        "手机定位服务已关闭：请打开定位，或手动输入坐标",
        "The phone's location service is off: turn it on, or type the coordinates",
    ),
    "device.location.timeout": (
        "暂时无法定位（信号弱）：请到窗边或室外重试，或手动输入坐标",
        "No position yet (weak signal): try again near a window or outside, or type the coordinates",
    ),
    "device.location.unavailable": (
        "无法获取定位，请手动输入坐标",
        "No position is available; type the coordinates",
    ),
    "device.camera.denied": (
        "未获得相机权限：请在手机设置中允许 FieldVisit 使用相机，或选择已有照片",
        "Camera permission was refused: allow FieldVisit to use the camera in the phone's settings, or pick a photo",
    ),
    "device.camera.unavailable": (
        "相机不可用，请选择已有照片",
        "The camera is not available; pick a photo instead",
    ),
    "device.camera.take": ("拍照", "Take photo"),
    "device.camera.shoot": ("拍摄", "Shoot"),
    "device.camera.cancel": ("取消", "Cancel"),
    # Encryption at rest: the lock screen's limit of wrong passwords (app/services/data_keys.py).
    "lock.error.wiped": (
        "密码连续输错次数过多，本机数据已清除：请重新登录",
        "Too many wrong passwords: this device's data were deleted. Sign in again",
    ),
}
