graph [
  directed 1
  node [
    id 0
    label "Seattle"
    cpu 57
    Longitude -122.3
    Latitude 47.45
  ]
  node [
    id 1
    label "LosAngeles"
    cpu 39
    Longitude -118.4
    Latitude 33.93
  ]
  node [
    id 2
    label "SanFrancisco"
    cpu 40
    Longitude -122.38
    Latitude 37.62
  ]
  node [
    id 3
    label "LasVegas"
    cpu 26
    Longitude -115.17
    Latitude 36.08
  ]
  node [
    id 4
    label "SaltLakeCity"
    cpu 60
    Longitude -111.97
    Latitude 40.78
  ]
  node [
    id 5
    label "ElPaso"
    cpu 59
    Longitude -106.4
    Latitude 31.8
  ]
  node [
    id 6
    label "Dallas"
    cpu 19
    Longitude -96.85
    Latitude 32.85
  ]
  node [
    id 7
    label "Houston"
    cpu 58
    Longitude -95.35
    Latitude 29.97
  ]
  node [
    id 8
    label "Tulsa"
    cpu 18
    Longitude -95.9
    Latitude 36.2
  ]
  node [
    id 9
    label "Minneapolis"
    cpu 51
    Longitude -93.38
    Latitude 45.07
  ]
  node [
    id 10
    label "KansasCity"
    cpu 24
    Longitude -94.72
    Latitude 39.32
  ]
  node [
    id 11
    label "Denver"
    cpu 18
    Longitude -104.87
    Latitude 39.75
  ]
  node [
    id 12
    label "Chicago"
    cpu 56
    Longitude -87.9
    Latitude 41.98
  ]
  node [
    id 13
    label "Indianapolis"
    cpu 10
    Longitude -86.27
    Latitude 39.65
  ]
  node [
    id 14
    label "Detroit"
    cpu 35
    Longitude -83.02
    Latitude 42.42
  ]
  node [
    id 15
    label "StLouis"
    cpu 38
    Longitude -90.37
    Latitude 38.75
  ]
  node [
    id 16
    label "Nashville"
    cpu 45
    Longitude -86.68
    Latitude 36.12
  ]
  node [
    id 17
    label "Cleveland"
    cpu 61
    Longitude -81.68
    Latitude 41.52
  ]
  node [
    id 18
    label "NewYork"
    cpu 14
    Longitude -73.78
    Latitude 40.65
  ]
  node [
    id 19
    label "Albany"
    cpu 20
    Longitude -73.8
    Latitude 42.75
  ]
  node [
    id 20
    label "Charlotte"
    cpu 27
    Longitude -80.93
    Latitude 35.22
  ]
  node [
    id 21
    label "NewOrleans"
    cpu 43
    Longitude -90.02
    Latitude 29.83
  ]
  node [
    id 22
    label "Boston"
    cpu 61
    Longitude -71.03
    Latitude 42.37
  ]
  node [
    id 23
    label "Atlanta"
    cpu 16
    Longitude -84.42
    Latitude 33.65
  ]
  node [
    id 24
    label "Miami"
    cpu 15
    Longitude -80.28
    Latitude 25.82
  ]
  node [
    id 25
    label "WashingtonDC"
    cpu 38
    Longitude -77.04
    Latitude 38.85
  ]
  edge [
    source 0
    target 2
    id 0
    maxRate 32
    delay 2.8046754744537625
  ]
  edge [
    source 0
    target 4
    id 2
    maxRate 21
    delay 2.8476543733911246
  ]
  edge [
    source 1
    target 2
    id 4
    maxRate 27
    delay 1.3997438509694262
  ]
  edge [
    source 1
    target 3
    id 6
    maxRate 38
    delay 0.9739532876251225
  ]
  edge [
    source 1
    target 5
    id 8
    maxRate 27
    delay 2.9459525319613733
  ]
  edge [
    source 2
    target 0
    id 1
    maxRate 32
    delay 2.8046754744537625
  ]
  edge [
    source 2
    target 1
    id 5
    maxRate 27
    delay 1.3997438509694262
  ]
  edge [
    source 2
    target 4
    id 10
    maxRate 38
    delay 2.477179683449156
  ]
  edge [
    source 3
    target 1
    id 7
    maxRate 38
    delay 0.9739532876251225
  ]
  edge [
    source 3
    target 4
    id 12
    maxRate 35
    delay 1.5197991306523977
  ]
  edge [
    source 3
    target 5
    id 14
    maxRate 23
    delay 2.4116435437892534
  ]
  edge [
    source 4
    target 0
    id 3
    maxRate 21
    delay 2.8476543733911246
  ]
  edge [
    source 4
    target 2
    id 11
    maxRate 38
    delay 2.477179683449156
  ]
  edge [
    source 4
    target 3
    id 13
    maxRate 35
    delay 1.5197991306523977
  ]
  edge [
    source 4
    target 11
    id 16
    maxRate 31
    delay 1.5782987051348643
  ]
  edge [
    source 5
    target 1
    id 9
    maxRate 27
    delay 2.9459525319613733
  ]
  edge [
    source 5
    target 3
    id 15
    maxRate 23
    delay 2.4116435437892534
  ]
  edge [
    source 5
    target 6
    id 18
    maxRate 25
    delay 2.328026730812539
  ]
  edge [
    source 5
    target 7
    id 20
    maxRate 24
    delay 2.7620351424681004
  ]
  edge [
    source 6
    target 5
    id 19
    maxRate 25
    delay 2.328026730812539
  ]
  edge [
    source 6
    target 7
    id 22
    maxRate 24
    delay 0.8982394970984239
  ]
  edge [
    source 6
    target 8
    id 24
    maxRate 32
    delay 0.9804104887150566
  ]
  edge [
    source 6
    target 11
    id 26
    maxRate 26
    delay 2.697739134922916
  ]
  edge [
    source 6
    target 16
    id 28
    maxRate 23
    delay 2.5722515305300444
  ]
  edge [
    source 7
    target 5
    id 21
    maxRate 24
    delay 2.7620351424681004
  ]
  edge [
    source 7
    target 6
    id 23
    maxRate 24
    delay 0.8982394970984239
  ]
  edge [
    source 7
    target 21
    id 30
    maxRate 37
    delay 1.3226821081783342
  ]
  edge [
    source 8
    target 6
    id 25
    maxRate 32
    delay 0.9804104887150566
  ]
  edge [
    source 8
    target 10
    id 32
    maxRate 22
    delay 0.9286417473619738
  ]
  edge [
    source 8
    target 15
    id 34
    maxRate 36
    delay 1.4510983162738755
  ]
  edge [
    source 9
    target 10
    id 36
    maxRate 30
    delay 1.664826741393776
  ]
  edge [
    source 9
    target 12
    id 38
    maxRate 40
    delay 1.4389721815524963
  ]
  edge [
    source 10
    target 8
    id 33
    maxRate 22
    delay 0.9286417473619738
  ]
  edge [
    source 10
    target 9
    id 37
    maxRate 30
    delay 1.664826741393776
  ]
  edge [
    source 10
    target 11
    id 40
    maxRate 34
    delay 2.243367233771951
  ]
  edge [
    source 10
    target 15
    id 42
    maxRate 40
    delay 0.9808319959970702
  ]
  edge [
    source 11
    target 4
    id 17
    maxRate 31
    delay 1.5782987051348643
  ]
  edge [
    source 11
    target 6
    id 27
    maxRate 26
    delay 2.697739134922916
  ]
  edge [
    source 11
    target 10
    id 41
    maxRate 34
    delay 2.243367233771951
  ]
  edge [
    source 12
    target 9
    id 39
    maxRate 40
    delay 1.4389721815524963
  ]
  edge [
    source 12
    target 13
    id 44
    maxRate 33
    delay 0.7525749283441121
  ]
  edge [
    source 12
    target 14
    id 46
    maxRate 22
    delay 1.0426279849424065
  ]
  edge [
    source 12
    target 15
    id 48
    maxRate 37
    delay 1.0671092610203103
  ]
  edge [
    source 13
    target 12
    id 45
    maxRate 33
    delay 0.7525749283441121
  ]
  edge [
    source 13
    target 15
    id 50
    maxRate 35
    delay 0.9450618004060324
  ]
  edge [
    source 13
    target 16
    id 52
    maxRate 28
    delay 1.0105933770509736
  ]
  edge [
    source 13
    target 17
    id 54
    maxRate 24
    delay 1.1314217852644957
  ]
  edge [
    source 14
    target 12
    id 47
    maxRate 22
    delay 1.0426279849424065
  ]
  edge [
    source 14
    target 17
    id 56
    maxRate 37
    delay 0.38379962644260346
  ]
  edge [
    source 15
    target 8
    id 35
    maxRate 36
    delay 1.4510983162738755
  ]
  edge [
    source 15
    target 10
    id 43
    maxRate 40
    delay 0.9808319959970702
  ]
  edge [
    source 15
    target 12
    id 49
    maxRate 37
    delay 1.0671092610203103
  ]
  edge [
    source 15
    target 13
    id 51
    maxRate 35
    delay 0.9450618004060324
  ]
  edge [
    source 16
    target 6
    id 29
    maxRate 23
    delay 2.5722515305300444
  ]
  edge [
    source 16
    target 13
    id 53
    maxRate 28
    delay 1.0105933770509736
  ]
  edge [
    source 16
    target 20
    id 58
    maxRate 38
    delay 1.361266628357022
  ]
  edge [
    source 16
    target 23
    id 60
    maxRate 29
    delay 0.8813588177873392
  ]
  edge [
    source 17
    target 13
    id 55
    maxRate 24
    delay 1.1314217852644957
  ]
  edge [
    source 17
    target 14
    id 57
    maxRate 37
    delay 0.38379962644260346
  ]
  edge [
    source 17
    target 19
    id 62
    maxRate 38
    delay 1.7090040377303406
  ]
  edge [
    source 17
    target 25
    id 64
    maxRate 35
    delay 1.2685085928222675
  ]
  edge [
    source 18
    target 19
    id 66
    maxRate 22
    delay 0.5990833948991048
  ]
  edge [
    source 18
    target 22
    id 68
    maxRate 34
    delay 0.7670200209501313
  ]
  edge [
    source 18
    target 25
    id 70
    maxRate 23
    delay 0.8821979183531489
  ]
  edge [
    source 19
    target 17
    id 63
    maxRate 38
    delay 1.7090040377303406
  ]
  edge [
    source 19
    target 18
    id 67
    maxRate 22
    delay 0.5990833948991048
  ]
  edge [
    source 19
    target 22
    id 72
    maxRate 22
    delay 0.5941978465126941
  ]
  edge [
    source 20
    target 16
    id 59
    maxRate 38
    delay 1.361266628357022
  ]
  edge [
    source 20
    target 23
    id 74
    maxRate 39
    delay 0.9373927009233332
  ]
  edge [
    source 20
    target 25
    id 76
    maxRate 31
    delay 1.3638095518166424
  ]
  edge [
    source 21
    target 7
    id 31
    maxRate 37
    delay 1.3226821081783342
  ]
  edge [
    source 21
    target 23
    id 78
    maxRate 26
    delay 1.743356217492213
  ]
  edge [
    source 21
    target 24
    id 80
    maxRate 28
    delay 2.7146690963812725
  ]
  edge [
    source 22
    target 18
    id 69
    maxRate 34
    delay 0.7670200209501313
  ]
  edge [
    source 22
    target 19
    id 73
    maxRate 22
    delay 0.5941978465126941
  ]
  edge [
    source 23
    target 16
    id 61
    maxRate 29
    delay 0.8813588177873392
  ]
  edge [
    source 23
    target 20
    id 75
    maxRate 39
    delay 0.9373927009233332
  ]
  edge [
    source 23
    target 21
    id 79
    maxRate 26
    delay 1.743356217492213
  ]
  edge [
    source 23
    target 24
    id 82
    maxRate 24
    delay 2.454481193267783
  ]
  edge [
    source 24
    target 21
    id 81
    maxRate 28
    delay 2.7146690963812725
  ]
  edge [
    source 24
    target 23
    id 83
    maxRate 24
    delay 2.454481193267783
  ]
  edge [
    source 25
    target 17
    id 65
    maxRate 35
    delay 1.2685085928222675
  ]
  edge [
    source 25
    target 18
    id 71
    maxRate 23
    delay 0.8821979183531489
  ]
  edge [
    source 25
    target 20
    id 77
    maxRate 31
    delay 1.3638095518166424
  ]
]
