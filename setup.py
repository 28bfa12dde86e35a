"""ecg-edge: AAMI EC57 arrhythmia detection from ECG on wearables and edge gateways.

Install profiles (extras):

* ``edge``      -- the Raspberry Pi daemon: numpy, scipy, pyserial, ai-edge-litert, bleak, wfdb.
                   No TensorFlow.
* ``train``     -- the workstation: TensorFlow/Keras, wfdb, scikit-learn, matplotlib.
* ``dashboard`` -- the Streamlit live view.
* ``fleet``     -- MQTT publishing.
* ``store``     -- the clinic side: ``ecg-edge ingest`` / ``history`` into SQLite (built in) or
                   PostgreSQL (psycopg 3), from MQTT (paho-mqtt).
* ``dev``       -- test tools.
* ``all``       -- everything.
"""
from setuptools import find_packages, setup

EDGE = [
    "numpy>=1.24",
    "scipy>=1.10",
    "pyserial>=3.5",
    "bleak>=0.22",
    "wfdb>=4.1",
    "ai-edge-litert>=1.2; platform_system=='Linux' or platform_system=='Darwin'",
]
TRAIN = [
    "tensorflow>=2.16",
    "wfdb>=4.1",
    "scikit-learn>=1.3",
    "matplotlib>=3.7",
    "tqdm>=4.60",
]
DASHBOARD = ["streamlit>=1.51", "paho-mqtt>=2.0"]  # 1.51: st.altair_chart(width=...)
FLEET = ["paho-mqtt>=2.0"]
STORE = ["paho-mqtt>=2.0", "psycopg[binary]>=3.1"]
DEV = ["pytest>=7.4", "hypothesis>=6.90", "jsonschema>=4.0", "neurokit2>=0.2.7", "selenium>=4.15",
       "tqdm>=4.60"]

setup(
    name="ecg-edge",
    version="0.1.0",
    description="Streaming ECG R-peak detection and int8 AAMI beat classification for edge devices",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["edge", "edge.*", "training", "training.*", "convert",
                                    "convert.*", "firmware_bridge", "firmware_bridge.*"]),
    package_data={"edge": ["models/*.tflite", "models/*.json", "data/*", "py.typed"],
                  "firmware_bridge": ["c/*.c", "c/*.h", "*.md"]},
    install_requires=["numpy>=1.24", "scipy>=1.10", "tomli>=2.0; python_version<'3.11'"],
    extras_require={
        "edge": EDGE,
        "train": TRAIN,
        "dashboard": DASHBOARD,
        "fleet": FLEET,
        "store": STORE,
        "dev": DEV,
        "all": sorted(set(EDGE + TRAIN + DASHBOARD + FLEET + STORE + DEV)),
    },
    entry_points={
        "console_scripts": [
            "ecg-edge=edge.cli:main",
            "ecg-sim=firmware_bridge.replay:main",
        ]
    },
)
